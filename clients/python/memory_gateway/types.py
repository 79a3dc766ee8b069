"""Shapes of what the client sends and gets back.

Answers are the gateway's JSON as it gives it (camelCase keys, the API's enum names), typed with
TypedDicts; a turn to send is a dataclass with snake_case fields.
"""

from dataclasses import dataclass
from typing import Any, Dict, List, Optional, TypedDict

# The API's enum names, as strings.
TurnRole = str  # USER, ASSISTANT, SYSTEM, TOOL
FeedbackType = str  # HELPFUL, NOT_HELPFUL, CORRECTION, DELETE_REQUEST
JobStatus = str  # ACCEPTED, RUNNING, SUCCESS, PARTIAL_SUCCESS, FAILED
Backend = str  # LOCAL, OPENVIKING, EVERMEMOS

TERMINAL_JOB_STATUSES = frozenset({"SUCCESS", "PARTIAL_SUCCESS", "FAILED"})


@dataclass
class Turn:
    """One conversation turn to ingest. Scope fields left None take the client's defaults."""

    session_id: str
    turn_id: str
    content: str
    role: TurnRole = "USER"
    workspace_id: Optional[str] = None
    user_id: Optional[str] = None
    agent_id: Optional[str] = None
    namespace: Optional[str] = None
    idempotency_key: Optional[str] = None
    source_type: Optional[str] = None
    source_event_id: Optional[str] = None
    request_id: Optional[str] = None
    metadata: Optional[Dict[str, Any]] = None
    trace_id: Optional[str] = None
    # Backends this turn may reach; None means every configured backend.
    backends: Optional[List[Backend]] = None


class MemoryRef(TypedDict):
    id: str
    gatewayId: str
    backend: Backend
    refType: str
    status: str
    namespace: str
    sessionId: str
    turnId: Optional[str]
    nativeId: Optional[str]
    errorMessage: Optional[str]
    createdAt: str


class IngestResult(TypedDict):
    status: str
    gatewayId: str
    provenanceId: str
    turnId: str
    replayed: bool
    refs: List[MemoryRef]
    errors: List[str]


class TurnError(TypedDict):
    code: str
    message: str
    field: Optional[str]


class IngestTurnsResult(TypedDict):
    """One turn of a batch: its result, or its own error."""

    turn: Optional[IngestResult]
    error: Optional[TurnError]


class ContextItemRef(TypedDict):
    id: str


class ContextItem(TypedDict):
    text: str
    score: float
    sourceBackend: Backend
    alsoFoundIn: List[Backend]
    memoryType: Optional[str]
    nativeId: Optional[str]
    nativeUri: Optional[str]
    ref: Optional[ContextItemRef]


class BackendRetrieval(TypedDict):
    backend: Backend
    outcome: str
    latencyMs: int
    error: Optional[str]
    itemCount: int


class RetrievalConflict(TypedDict):
    kind: str
    backends: List[Backend]
    nativeIds: List[str]
    message: str


class RetrieveContextResult(TypedDict):
    items: List[ContextItem]
    backends: List[BackendRetrieval]
    conflicts: List[RetrievalConflict]
    traceId: Optional[str]


class OutboxSummary(TypedDict):
    totalEvents: int
    pendingEvents: int
    processingEvents: int
    successEvents: int
    skippedEvents: int
    deadLetterEvents: int


class Job(TypedDict, total=False):
    """A job of any kind; sessionId and createdRefsCount are given for commits and feedback routing."""

    id: str
    kind: str
    status: JobStatus
    workspaceId: str
    errorMessage: Optional[str]
    createdAt: str
    updatedAt: str
    startedAt: Optional[str]
    finishedAt: Optional[str]
    outboxSummary: OutboxSummary
    sessionId: str
    createdRefsCount: int


class CommitResult(TypedDict):
    job: Job
    created: bool


class Feedback(TypedDict):
    id: str
    memoryRefId: str
    feedbackType: FeedbackType
    status: str
    reviewedBy: Optional[str]
    resultReason: Optional[str]
    job: Optional[Job]
    replacementRef: Optional[ContextItemRef]


class FeedbackResult(TypedDict):
    feedback: Feedback
    created: bool


class ErasureBackendResult(TypedDict):
    backend: Backend
    outcome: str
    verified: bool
    residue: int
    detail: Optional[str]


class ErasureRequest(TypedDict):
    id: str
    workspaceId: str
    userId: str
    agentId: Optional[str]
    namespace: Optional[str]
    status: str
    job: Job
    backends: List[ErasureBackendResult]
    createdAt: str
    finishedAt: Optional[str]


class EraseResult(TypedDict):
    request: ErasureRequest
    created: bool


class PageInfo(TypedDict):
    hasNextPage: bool
    hasPreviousPage: bool
    startCursor: Optional[str]
    endCursor: Optional[str]


class RefGraph(MemoryRef):
    """A ref with its neighbours: the job that made it, what replaced it, its feedback."""

    job: Optional[Job]
    supersededBy: Optional[ContextItemRef]
    supersedes: List[ContextItemRef]
    feedback: List[Feedback]


class MemoryRefPage(TypedDict):
    refs: List[RefGraph]
    pageInfo: PageInfo
    totalCount: Optional[int]


class SessionGraph(TypedDict):
    """Everything the control plane holds under one session: its refs (with their graph) and jobs."""

    id: str
    workspaceId: str
    sessionId: str
    refs: List[RefGraph]
    jobs: List[Job]
