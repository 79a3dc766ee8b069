"""The client's version and the gateway versions it works with."""

from typing import Tuple

__version__ = "0.1.0"

# The client speaks the schema of the gateway release of the same minor version.
# A gateway built from a checkout reports "dev" or "dev+<commit>": it is the
# newest schema, and taken as supported.
SERVER_VERSIONS = ">=0.1.0,<0.2.0"

_MIN_SERVER: Tuple[int, int, int] = (0, 1, 0)
_MAX_SERVER_EXCLUSIVE: Tuple[int, int, int] = (0, 2, 0)


def server_version_supported(version: str) -> bool:
    """Whether a gateway reporting this version (`memory-gateway version`) works with this client."""
    v = version.strip()
    if v == "dev" or v.startswith("dev+"):
        return True
    v = v[1:] if v.startswith("v") else v
    core = v.split("+", 1)[0].split("-", 1)[0]
    try:
        parts = tuple(int(p) for p in core.split("."))
    except ValueError:
        return False
    if len(parts) != 3:
        return False
    return _MIN_SERVER <= parts < _MAX_SERVER_EXCLUSIVE
