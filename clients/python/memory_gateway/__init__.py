"""Memory Gateway client: remember, recall, commit and follow jobs, on the standard library alone.

    from memory_gateway import MemoryGateway
    mg = MemoryGateway("http://127.0.0.1:8080", workspace_id="acme", user_id="alice", agent_id="helper", namespace="notes")
    mg.ingest_turn(session_id="s1", turn_id="t1", content="I drink green tea")
"""

from .client import DEFAULT_URL, NO_RETRY, MemoryGateway, RetryPolicy
from .errors import MemoryGatewayError
from .types import TERMINAL_JOB_STATUSES, Turn
from .version import SERVER_VERSIONS, __version__, server_version_supported

__all__ = [
    "DEFAULT_URL",
    "NO_RETRY",
    "MemoryGateway",
    "MemoryGatewayError",
    "RetryPolicy",
    "SERVER_VERSIONS",
    "TERMINAL_JOB_STATUSES",
    "Turn",
    "__version__",
    "server_version_supported",
]
