"""Environment variables for settings.py, read with django-environ under three project rules.

1. An empty (or blank) variable is unset, for every type: `DEBUG=` and `EMAIL_PORT=` both
   give the default, as `export VAR=` in a shell or `VAR: ""` in a compose file mean to.
2. A value that is not of the type is refused with the variable's name: booleans are
   1/0, true/false, yes/no, on/off (any case); django-environ alone reads `DEBUG=flase` as
   False. Lists are comma-separated, items stripped, empty items dropped.
3. A value is taken literally: django-environ would read `SECRET_KEY=$abc` as "the value of
   the variable abc" (or the default when there is none), and random secrets start with `$`.

The environment is read once, when settings.py builds `env`; nothing writes to it.
"""

import os
from collections.abc import Mapping
from typing import Any

import environ
from django.core.exceptions import ImproperlyConfigured

TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


class Env(environ.Env):
    def __init__(self, source: Mapping[str, str] | None = None) -> None:
        super().__init__()
        source = os.environ if source is None else source
        self.ENVIRON = {name: value for name, value in source.items() if value.strip()}

    def get_value(self, var: str, cast=None, default=environ.Env.NOTSET, parse_default=False):
        raw = self.ENVIRON.get(var)
        try:
            if raw is not None and raw.startswith("$"):
                return self.parse_value(raw, cast or str)
            return super().get_value(var, cast=cast, default=default, parse_default=parse_default)
        except ValueError:
            kind = {bool: "a boolean (1/0, true/false)", int: "an integer"}.get(cast, "valid")
            raise ImproperlyConfigured(f"{var} must be {kind}, got {raw!r}.") from None

    @classmethod
    def parse_value(cls, value: str, cast) -> Any:
        if cast is bool:
            word = value.strip().lower()
            if word not in TRUE | FALSE:
                raise ValueError(value)
            return word in TRUE
        if cast is list:
            return [item.strip() for item in value.split(",") if item.strip()]
        return super().parse_value(value, cast)

    def prefixed(self, prefix: str) -> dict[str, str]:
        """Every variable starting with `prefix`, keyed without it (ANYMAIL_X -> X)."""
        return {
            name.removeprefix(prefix): value
            for name, value in self.ENVIRON.items()
            if name.startswith(prefix)
        }
