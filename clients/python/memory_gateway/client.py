"""A client of the Memory Gateway's GraphQL API, on the standard library alone."""

import json
import random
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, cast

from . import documents
from .errors import MemoryGatewayError
from .types import (
    TERMINAL_JOB_STATUSES,
    CommitResult,
    EraseResult,
    ErasureRequest,
    Feedback,
    FeedbackResult,
    FeedbackType,
    IngestResult,
    IngestTurnsResult,
    Job,
    MemoryRefPage,
    RefGraph,
    RetrieveContextResult,
    SessionGraph,
    Turn,
    TurnRole,
)
from .version import __version__

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_WAIT_SECONDS = 120.0
# A job stream idle this long is opened again: the subscription starts with the job's current state,
# so nothing is missed, and a connection a proxy dropped silently is noticed.
DEFAULT_STREAM_IDLE_SECONDS = 30.0

USER_AGENT = f"memory-gateway-python/{__version__}"


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of retryable errors only: exponential backoff with jitter, or the gateway's retryAfterMs."""

    max_attempts: int = 4
    initial_delay: float = 0.2
    max_delay: float = 5.0
    multiplier: float = 2.0
    # Each delay is spread by up to this fraction, so clients that failed together retry apart.
    jitter: float = 0.2

    def delay(self, attempt: int, error: MemoryGatewayError) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        if error.retry_after_ms is not None:
            return max(error.retry_after_ms, 0) / 1000.0
        base = min(self.initial_delay * (self.multiplier ** (attempt - 1)), self.max_delay)
        return base * (1 + random.uniform(-self.jitter, self.jitter))


NO_RETRY = RetryPolicy(max_attempts=1)


class MemoryGateway:
    """The Memory Gateway's operations for agents and dashboards.

    Scope defaults (workspace_id, user_id, agent_id, namespace) given here are used by every call that
    leaves them out. Errors are raised as MemoryGatewayError; retryable ones are retried first, as
    `retry` says.
    """

    def __init__(
        self,
        url: str = DEFAULT_URL,
        *,
        api_key: Optional[str] = None,
        workspace_id: Optional[str] = None,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        namespace: Optional[str] = None,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        retry: RetryPolicy = RetryPolicy(),
        headers: Optional[Mapping[str, str]] = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        url = url.rstrip("/")
        self.endpoint = url if url.endswith("/graphql") else url + "/graphql"
        self.api_key = api_key
        self.workspace_id = workspace_id
        self.user_id = user_id
        self.agent_id = agent_id
        self.namespace = namespace
        self.timeout = timeout
        self.retry = retry
        self._headers = dict(headers or {})
        self._sleep = sleep

    # ---- transport ----

    def execute(self, document: str, variables: Optional[Mapping[str, Any]] = None, *, idempotent: bool = True) -> Dict[str, Any]:
        """Runs one GraphQL operation and returns its data, retrying retryable errors.

        idempotent=False retries only when the request surely never reached the gateway (a refused
        connection) or the gateway said it is retryable.
        """
        attempt = 1
        while True:
            try:
                return self._post(document, variables, idempotent)
            except MemoryGatewayError as err:
                if not err.retryable or attempt >= self.retry.max_attempts:
                    raise
                self._sleep(self.retry.delay(attempt, err))
                attempt += 1

    def _request(self, document: str, variables: Optional[Mapping[str, Any]], accept: str) -> urllib.request.Request:
        body = json.dumps({"query": document, "variables": dict(variables or {})}).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": accept, "User-Agent": USER_AGENT}
        headers.update(self._headers)
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        return urllib.request.Request(self.endpoint, data=body, headers=headers, method="POST")

    def _post(self, document: str, variables: Optional[Mapping[str, Any]], idempotent: bool) -> Dict[str, Any]:
        req = self._request(document, variables, "application/graphql-response+json, application/json")
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                status, raw = resp.status, resp.read()
        except urllib.error.HTTPError as err:
            status, raw = err.code, err.read()
        except (urllib.error.URLError, OSError) as err:
            raise _transport_error(err, idempotent) from err
        return _data_of(status, raw)

    # ---- scope ----

    def _scope(self, **given: Optional[str]) -> Dict[str, str]:
        """The scope fields of an input, each given or the client's default; a missing one is refused."""
        out: Dict[str, str] = {}
        for key, value in given.items():
            value = value if value is not None else getattr(self, _SNAKE[key])
            if value is None:
                raise MemoryGatewayError(
                    "BAD_USER_INPUT",
                    f"input.{key}: is required: pass {_SNAKE[key]} or set it on the client",
                    field=f"input.{key}",
                    retryable=False,
                )
            out[key] = value
        return out

    # ---- ingest ----

    def ingest_turn(
        self,
        *,
        session_id: str,
        turn_id: str,
        content: str,
        role: TurnRole = "USER",
        workspace_id: Optional[str] = None,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        namespace: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        source_type: Optional[str] = None,
        source_event_id: Optional[str] = None,
        request_id: Optional[str] = None,
        metadata: Optional[Dict[str, Any]] = None,
        trace_id: Optional[str] = None,
        backends: Optional[List[str]] = None,
    ) -> IngestResult:
        """Ingests one turn into every configured backend. Idempotent: the same turn again is a replay."""
        turn = Turn(
            session_id=session_id, turn_id=turn_id, content=content, role=role, workspace_id=workspace_id,
            user_id=user_id, agent_id=agent_id, namespace=namespace, idempotency_key=idempotency_key,
            source_type=source_type, source_event_id=source_event_id, request_id=request_id,
            metadata=metadata, trace_id=trace_id, backends=backends,
        )
        data = self.execute(documents.INGEST_TURN, {"in": self._turn_input(turn)})
        return cast(IngestResult, data["ingestConversationTurn"])

    def ingest_turns(self, turns: Iterable[Turn]) -> List[IngestTurnsResult]:
        """Ingests up to 100 turns in one request: one result per turn, in order, each its payload or
        its own error (field input.turns[i]....); one bad turn never fails the others."""
        data = self.execute(documents.INGEST_TURNS, {"in": {"turns": [self._turn_input(t) for t in turns]}})
        return cast(List[IngestTurnsResult], data["ingestConversationTurns"]["results"])

    def _turn_input(self, t: Turn) -> Dict[str, Any]:
        inp: Dict[str, Any] = self._scope(
            workspaceId=t.workspace_id, userId=t.user_id, agentId=t.agent_id, namespace=t.namespace
        )
        inp.update(sessionId=t.session_id, turnId=t.turn_id, role=t.role, content=t.content)
        _put(inp, idempotencyKey=t.idempotency_key, sourceType=t.source_type, sourceEventId=t.source_event_id,
             requestId=t.request_id, metadata=t.metadata)
        if t.trace_id is not None:
            inp["trace"] = {"traceId": t.trace_id}
        if t.backends is not None:
            inp["policy"] = {"backends": list(t.backends)}
        return inp

    # ---- retrieval ----

    def retrieve_context(
        self,
        query: str,
        *,
        session_id: Optional[str] = None,
        limit: Optional[int] = None,
        backends: Optional[List[str]] = None,
        trace_id: Optional[str] = None,
        workspace_id: Optional[str] = None,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> RetrieveContextResult:
        """Queries every configured backend (or `backends`) and answers the merged items."""
        inp: Dict[str, Any] = self._scope(workspaceId=workspace_id, userId=user_id, agentId=agent_id)
        inp["query"] = query
        _put(inp, namespace=namespace if namespace is not None else self.namespace, sessionId=session_id,
             limit=limit, backends=backends, traceId=trace_id)
        return cast(RetrieveContextResult, self.execute(documents.RETRIEVE_CONTEXT, {"in": inp})["retrieveContext"])

    # ---- commit and jobs ----

    def commit_session(
        self,
        session_id: str,
        *,
        idempotency_key: Optional[str] = None,
        request_id: Optional[str] = None,
        workspace_id: Optional[str] = None,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> CommitResult:
        """Commits a session to every backend: answers its job at once (follow it with wait_for_job)."""
        inp: Dict[str, Any] = self._scope(workspaceId=workspace_id, userId=user_id, agentId=agent_id, namespace=namespace)
        inp["sessionId"] = session_id
        _put(inp, idempotencyKey=idempotency_key, requestId=request_id)
        return cast(CommitResult, self.execute(documents.COMMIT_SESSION, {"in": inp})["commitSession"])

    def job(self, job_id: str) -> Job:
        """A job of any kind (commit, feedback routing, erasure) as it is now."""
        node = self.execute(documents.JOB, {"id": job_id})["node"]
        if not node or "status" not in node:
            raise MemoryGatewayError("NOT_FOUND", "job not found", field="id", retryable=False)
        return cast(Job, node)

    def wait_for_job(
        self,
        job_id: str,
        *,
        timeout: float = DEFAULT_WAIT_SECONDS,
        on_update: Optional[Callable[[Job], None]] = None,
        idle_timeout: float = DEFAULT_STREAM_IDLE_SECONDS,
    ) -> Job:
        """Follows a job over server-sent events until it is terminal and answers that state.

        on_update gets each state the stream sends (the current one first). A stream that ends early or
        idles is opened again; a retryable error opens it again after the retry policy's delay; any other
        error is raised. Past `timeout` seconds the wait raises TIMEOUT.
        """
        deadline = time.monotonic() + timeout
        failures = 0
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise MemoryGatewayError("TIMEOUT", f"job {job_id} did not finish within {timeout:g}s", retryable=False)
            try:
                for job in self._job_stream(job_id, min(remaining, idle_timeout)):
                    failures = 0
                    if on_update is not None:
                        on_update(job)
                    if job.get("status") in TERMINAL_JOB_STATUSES:
                        return job
            except MemoryGatewayError as err:
                if not err.retryable:
                    raise
                failures += 1
                delay = self.retry.delay(failures, err)
                self._sleep(min(delay, max(deadline - time.monotonic(), 0)))
            except socket.timeout:
                continue  # idle: open again

    def _job_stream(self, job_id: str, read_timeout: float) -> Iterator[Job]:
        req = self._request(documents.JOB_UPDATED, {"id": job_id}, "text/event-stream")
        try:
            resp = urllib.request.urlopen(req, timeout=read_timeout)
        except urllib.error.HTTPError as err:
            _data_of(err.code, err.read())
            raise MemoryGatewayError("INTERNAL", f"HTTP {err.code}", http_status=err.code, retryable=False) from err
        except socket.timeout:
            raise
        except (urllib.error.URLError, OSError) as err:
            raise _transport_error(err, True) from err
        with resp:
            if not resp.headers.get("Content-Type", "").startswith("text/event-stream"):
                _data_of(resp.status, resp.read())
                raise MemoryGatewayError("INTERNAL", "the gateway answered no event stream", retryable=False)
            try:
                for event, data in _sse_events(resp):
                    if event == "complete":
                        return
                    if event != "next" or not data:
                        continue
                    payload = json.loads(data)
                    if payload.get("errors"):
                        raise MemoryGatewayError.from_graphql(payload["errors"][0])
                    yield cast(Job, payload["data"]["jobUpdated"])
            except socket.timeout:
                raise
            except (ConnectionError, urllib.error.URLError) as err:
                raise _transport_error(err, True) from err

    # ---- feedback ----

    def record_feedback(
        self,
        memory_ref_id: str,
        feedback_type: FeedbackType,
        *,
        comment: Optional[str] = None,
        correction: Optional[str] = None,
        source_type: Optional[str] = None,
        source_event_id: Optional[str] = None,
        workspace_id: Optional[str] = None,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        namespace: Optional[str] = None,
    ) -> FeedbackResult:
        """Records HELPFUL, NOT_HELPFUL, CORRECTION (with `correction`) or DELETE_REQUEST on a memory ref.
        Idempotent on source_event_id; without one it is retried only when the gateway says so."""
        inp: Dict[str, Any] = self._scope(workspaceId=workspace_id, userId=user_id, agentId=agent_id, namespace=namespace)
        inp.update(memoryRefId=memory_ref_id, feedbackType=feedback_type)
        _put(inp, comment=comment, correction=correction, sourceType=source_type, sourceEventId=source_event_id)
        data = self.execute(documents.RECORD_FEEDBACK, {"in": inp}, idempotent=source_event_id is not None)
        return cast(FeedbackResult, data["recordMemoryFeedback"])

    def review_feedback(self, feedback_id: str, decision: str, *, reason: Optional[str] = None) -> Feedback:
        """ACCEPT or REJECT received feedback; accepting a correction or delete request starts a job
        (feedback.job) carrying it to the backend that owns the memory."""
        inp: Dict[str, Any] = {"id": feedback_id, "decision": decision}
        _put(inp, reason=reason)
        return cast(Feedback, self.execute(documents.REVIEW_FEEDBACK, {"in": inp})["reviewMemoryFeedback"]["feedback"])

    # ---- erasure ----

    def erase_subject(
        self,
        reason: str,
        *,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        namespace: Optional[str] = None,
        idempotency_key: Optional[str] = None,
        workspace_id: Optional[str] = None,
    ) -> EraseResult:
        """Erases everything about a user (optionally narrowed to an agent or a namespace) in every
        backend. Asynchronous: follow request.job with wait_for_job. Agent and namespace narrow the
        erasure only when given here, not from the client's defaults."""
        inp: Dict[str, Any] = self._scope(workspaceId=workspace_id, userId=user_id)
        inp["reason"] = reason
        _put(inp, agentId=agent_id, namespace=namespace, idempotencyKey=idempotency_key)
        return cast(EraseResult, self.execute(documents.ERASE_SUBJECT, {"in": inp})["eraseSubject"])

    def erasure_request(self, request_id: str) -> ErasureRequest:
        """An erasure request with its status and each backend's outcome."""
        return cast(ErasureRequest, self.execute(documents.ERASURE_REQUEST, {"id": request_id})["erasureRequest"])

    # ---- the refs graph ----

    def memory_ref(self, ref_id: str) -> RefGraph:
        """A memory ref with its job, what superseded it or it supersedes, and its feedback."""
        return _ref_graph(self.execute(documents.MEMORY_REF, {"id": ref_id})["memoryRef"])

    def memory_refs(
        self,
        *,
        first: int = 20,
        after: Optional[str] = None,
        workspace_id: Optional[str] = None,
        user_id: Optional[str] = None,
        agent_id: Optional[str] = None,
        session_id: Optional[str] = None,
        namespace: Optional[str] = None,
        backend: Optional[str] = None,
        ref_type: Optional[str] = None,
        status: Optional[str] = None,
        gateway_id: Optional[str] = None,
    ) -> MemoryRefPage:
        """One page of memory refs, newest first (pageInfo.endCursor is the next `after`). Filters left
        out do not filter: the client's scope defaults are not applied here."""
        flt: Dict[str, Any] = {}
        _put(flt, workspaceId=workspace_id, userId=user_id, agentId=agent_id, sessionId=session_id,
             namespace=namespace, backend=backend, refType=ref_type, status=status, gatewayId=gateway_id)
        conn = self.execute(documents.MEMORY_REFS, {"filter": flt, "first": first, "after": after})["memoryRefs"]
        return cast(MemoryRefPage, {
            "refs": [_ref_graph(e["node"]) for e in conn["edges"]],
            "pageInfo": conn["pageInfo"],
            "totalCount": conn.get("totalCount"),
        })

    def session(self, session_id: str, *, first: int = 50, workspace_id: Optional[str] = None) -> SessionGraph:
        """A session's refs graph: its refs (each with its job, replacements and feedback) and jobs."""
        scope = self._scope(workspaceId=workspace_id)
        node = self.execute(documents.SESSION, {"workspaceId": scope["workspaceId"], "sessionId": session_id, "first": first})["session"]
        return cast(SessionGraph, {
            "id": node["id"],
            "workspaceId": node["workspaceId"],
            "sessionId": node["sessionId"],
            "refs": [_ref_graph(e["node"]) for e in node["refs"]["edges"]],
            "jobs": [e["node"] for e in node["jobs"]["edges"]],
        })


_SNAKE = {"workspaceId": "workspace_id", "userId": "user_id", "agentId": "agent_id", "namespace": "namespace"}


def _put(target: Dict[str, Any], **values: Any) -> None:
    """Sets the values that are given; a field left out stays out of the input."""
    for key, value in values.items():
        if value is not None:
            target[key] = value


def _ref_graph(node: Dict[str, Any]) -> RefGraph:
    out = dict(node)
    out["feedback"] = [e["node"] for e in node.get("feedback", {}).get("edges", [])]
    return cast(RefGraph, out)


def _transport_error(err: BaseException, idempotent: bool) -> MemoryGatewayError:
    """A failure to reach the gateway. A refused connection never delivered the request, so it is
    always safe to send again; any other failure is, only when the operation is idempotent."""
    reason = getattr(err, "reason", err)
    refused = isinstance(reason, ConnectionRefusedError)
    timed_out = isinstance(reason, socket.timeout)
    return MemoryGatewayError(
        "TIMEOUT" if timed_out else "UNAVAILABLE",
        f"the memory gateway cannot be reached: {reason}",
        retryable=refused or idempotent,
    )


def _data_of(status: int, raw: bytes) -> Dict[str, Any]:
    """The data of a GraphQL answer, or the error its first error entry (or HTTP status) says."""
    try:
        body = json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        body = None
    if isinstance(body, dict) and body.get("errors"):
        raise MemoryGatewayError.from_graphql(body["errors"][0], http_status=status)
    if status >= 400 or not isinstance(body, dict) or body.get("data") is None:
        code, retryable = _HTTP_CODES.get(status, ("INTERNAL", False))
        raise MemoryGatewayError(code, f"HTTP {status} without a GraphQL answer", retryable=retryable, http_status=status)
    return cast(Dict[str, Any], body["data"])


_HTTP_CODES: Dict[int, Tuple[str, bool]] = {
    401: ("UNAUTHENTICATED", False),
    403: ("FORBIDDEN", False),
    404: ("NOT_FOUND", False),
    429: ("RATE_LIMITED", True),
    502: ("UNAVAILABLE", True),
    503: ("UNAVAILABLE", True),
    504: ("UNAVAILABLE", True),
}


def _sse_events(resp: Any) -> Iterator[Tuple[str, str]]:
    """The (event, data) pairs of a text/event-stream, as the graphql-sse protocol sends them."""
    event, data = "message", []  # type: Tuple[str, List[str]]
    while True:
        line = resp.readline()
        if not line:
            return
        text = line.decode("utf-8").rstrip("\r\n")
        if text == "":
            if data or event != "message":
                yield event, "\n".join(data)
            event, data = "message", []
        elif text.startswith(":"):
            continue
        else:
            name, _, value = text.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
