"""Documents a hostile client sends to make validation or execution expensive (shared by the
tests and bench/hostile.py)."""


def doubling_fragments(levels: int) -> str:
    """`{ ...F0 }`, each fragment spreading the next one twice: 2**(levels-1) fields."""
    fragments = [f"fragment F{n} on Query {{ ...F{n + 1} ...F{n + 1} }}" for n in range(levels - 1)]
    last = f"fragment F{levels - 1} on Query {{ x: __typename }}"
    return " ".join(["{ ...F0 }", *fragments, last])


def nested_fields(levels: int) -> str:
    """`{ me { me { ... } } }`: nesting that only the depth limit stops (not a valid field)."""
    return "{ " + "me { " * levels + "email" + " }" * levels + " }"


def repeated_field(times: int) -> str:
    """One field repeated: graphql-core compares every pair of them for overlap."""
    return "{ me { " + "email " * times + "} }"


def huge_comment(length: int) -> str:
    return "{ me { email } }\n#" + "x" * length


def many_comments(count: int) -> str:
    return "{ me { email } }\n" + "#\n" * count
