"""Refresh the GraphiQL files the project serves itself (`make vendor-graphiql`).

Fetches each package at its pinned version from the npm registry with `npm pack`, checks
the tarball against the integrity recorded below, and copies the browser builds and licences
into schema/static/graphiql/vendor/. Two changes to the published files, so that the page
works under `Content-Security-Policy: default-src 'self'` and `collectstatic` can hash it:

- the fonts and images that graphiql.min.css embeds as data: URLs become files under assets/;
- the sourceMappingURL comments go (the .map files are not shipped);
- graphiql.min.js takes the nonce for the style elements its dialogs insert (a scroll lock)
  from `window.graphiqlStyleNonce`, which the page sets; its bundle offers no other way.

`make run` never needs this: the output is committed. To upgrade, change a version, run it
once with the integrity left empty (it prints the new one), paste it, run it again.
Standard library only; needs `npm` on PATH.
"""

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "schema" / "static" / "graphiql" / "vendor"

# package, version, npm integrity (sha512 of the tarball), {file in the package: file here}
PACKAGES = [
    (
        "react",
        "18.3.1",
        "sha512-wS+hAgJShR0KhEvPJArfuPVN1+Hz1t0Y6n5jLrGQbkb4urgPE/0Rve+1kMB1v/oWgHgm4WIcV+i7F2pTVj+2iQ==",
        {"umd/react.production.min.js": "react.production.min.js", "LICENSE": "LICENSE-react"},
    ),
    (
        "react-dom",
        "18.3.1",
        "sha512-5m4nQKp+rZRb09LNH59GM4BxTh9251/ylbKIbpe7TpGxfJ+9kv6BLkLBXIjjspbgbnIBNqlI23tRnTWT0snUIw==",
        {
            "umd/react-dom.production.min.js": "react-dom.production.min.js",
            "LICENSE": "LICENSE-react-dom",
        },
    ),
    (
        "graphiql",
        "3.8.3",
        "sha512-cuPDYtXVKV86Pu5PHBX642Odi/uVEE2y1Jxq5rGO/Qy1G2lRp7ZZ7a/T30RzxhuLSWo9zUbzq0P3U49//H0Ugw==",
        {
            "graphiql.min.js": "graphiql.min.js",
            "graphiql.min.css": "graphiql.min.css",
            "LICENSE": "LICENSE-graphiql",
        },
    ),
    (
        "@graphiql/plugin-explorer",
        "3.2.5",
        "sha512-gM9UwD0PcOHe+XrRY2YMIV4pUrDIfV0YBQ5kQUZxk0BuVvZO9xk06XFv5plBKDAwtxbsuq+nET4i9FJCiYev2g==",
        {"dist/index.umd.js": "plugin-explorer.umd.js", "dist/style.css": "plugin-explorer.css"},
    ),
    # Bundled inside the explorer plugin's build; shipped here for its licence.
    (
        "graphiql-explorer",
        "0.9.0",
        "sha512-fZC/wsuatqiQDO2otchxriFO0LaWIo/ovF/CQJ1yOudmY0P7pzDiP+l9CEHUiWbizk3e99x6DQG4XG1VxA+d6A==",
        {"LICENSE": "LICENSE-graphiql-explorer"},
    ),
]

SOURCE_MAP = re.compile(rb"\n?/[/*][#@] sourceMappingURL=[^\n]*?(\*/)?\s*$")
STYLE_NONCE = (
    b"__webpack_require__.nc = undefined;",
    b'Object.defineProperty(__webpack_require__, "nc", '
    b"{ get: function () { return window.graphiqlStyleNonce; } });",
)
DATA_URL = re.compile(rb"url\((?:data:(?:font|image)/(woff2?|png);base64,([A-Za-z0-9+/=]+))\)")


def npm_pack(package: str, version: str, workdir: Path) -> tuple[Path, str]:
    out = subprocess.run(
        ["npm", "pack", f"{package}@{version}", "--json", "--pack-destination", str(workdir)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    info = json.loads(out)[0]
    tarball = workdir / info["filename"]
    digest = base64.b64encode(hashlib.sha512(tarball.read_bytes()).digest()).decode()
    return tarball, f"sha512-{digest}"


def extract_data_urls(css: bytes, assets: Path) -> bytes:
    """Write each embedded font or image to assets/<sha256 prefix>.<ext>; point the CSS at it."""
    assets.mkdir(exist_ok=True)

    def to_file(match: re.Match) -> bytes:
        ext, data = match.group(1).decode(), base64.b64decode(match.group(2))
        name = f"{hashlib.sha256(data).hexdigest()[:16]}.{ext}"
        (assets / name).write_bytes(data)
        return f"url(assets/{name})".encode()

    return DATA_URL.sub(to_file, css)


def main() -> int:
    if VENDOR.exists():
        shutil.rmtree(VENDOR)
    VENDOR.mkdir(parents=True)
    lines = []
    mismatched = False
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for package, version, integrity, files in PACKAGES:
            tarball, actual = npm_pack(package, version, workdir)
            if actual != integrity:
                print(f"{package}@{version}: integrity {actual}, expected {integrity or '(none)'}")
                mismatched = True
                continue
            with tarfile.open(tarball) as archive:
                for source, target in files.items():
                    data = archive.extractfile(f"package/{source}").read()
                    if target.endswith((".js", ".css")):
                        data = SOURCE_MAP.sub(b"\n", data)
                    if target == "graphiql.min.js":
                        assert data.count(STYLE_NONCE[0]) == 1, "webpack's nonce hook moved"
                        data = data.replace(*STYLE_NONCE)
                    if target == "graphiql.min.css":
                        data = extract_data_urls(data, VENDOR / "assets")
                    (VENDOR / target).write_bytes(data)
            shipped = ", ".join(sorted(files.values()))
            lines.append(f"| `{package}` | {version} | {shipped} | `{integrity}` |")
    if mismatched:
        return 1
    (VENDOR / "README.md").write_text(README.format(rows="\n".join(lines)))
    return 0


README = """\
# Vendored GraphiQL

Served by the project itself (no CDN): GraphiQL at `/graphql/` loads only these files and
`../graphiql-app.js`. Generated by `make vendor-graphiql` (frontend/vendor_graphiql.py) from
the npm registry; do not edit by hand.

| package | version | files here | npm integrity of the tarball |
|---|---|---|---|
{rows}

Changes to the published files: the fonts and images embedded in `graphiql.min.css` as data:
URLs are written to `assets/` (a strict `Content-Security-Policy` refuses data: URLs), the
`sourceMappingURL` comments are removed (the maps are not shipped), and `graphiql.min.js` reads
the nonce for the style elements its dialogs insert from `window.graphiqlStyleNonce` (set by
`../graphiql-app.js` from the page's per-response nonce; webpack's own hook is not reachable
from outside the bundle).

Licences, all MIT, in the `LICENSE-*` files: React, ReactDOM, GraphiQL (whose repository also
publishes the explorer plugin, which ships no licence file of its own), and graphiql-explorer,
which the plugin's build bundles.
"""

if __name__ == "__main__":
    sys.exit(main())
