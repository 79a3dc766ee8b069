"""The GraphQL documents the client sends (schema.graphqls is the reference)."""

REF_FIELDS = """
fragment RefFields on MemoryRef {
  id gatewayId backend refType status namespace sessionId turnId nativeId errorMessage createdAt
}"""

JOB_FIELDS = """
fragment JobFields on Job {
  id kind status workspaceId errorMessage createdAt updatedAt startedAt finishedAt
  outboxSummary { totalEvents pendingEvents processingEvents successEvents skippedEvents deadLetterEvents }
  ... on CommitJob { sessionId createdRefsCount }
}"""

FEEDBACK_FIELDS = """
fragment FeedbackFields on MemoryFeedback {
  id memoryRefId feedbackType status reviewedBy resultReason
  job { ...JobFields }
  replacementRef { id }
}"""

REF_GRAPH = """
fragment RefGraph on MemoryRef {
  ...RefFields
  job { ...JobFields }
  supersededBy { id }
  supersedes { id }
  feedback(first: 10) { edges { node { ...FeedbackFields } } }
}"""

INGEST_RESULT = """
fragment IngestResult on IngestConversationTurnPayload {
  status gatewayId provenanceId turnId replayed errors refs { ...RefFields }
}"""

INGEST_TURN = (
    """
mutation IngestConversationTurn($in: IngestConversationTurnInput!) {
  ingestConversationTurn(input: $in) { ...IngestResult }
}"""
    + INGEST_RESULT
    + REF_FIELDS
)

INGEST_TURNS = (
    """
mutation IngestConversationTurns($in: IngestConversationTurnsInput!) {
  ingestConversationTurns(input: $in) { results { turn { ...IngestResult } error { code message field } } }
}"""
    + INGEST_RESULT
    + REF_FIELDS
)

RETRIEVE_CONTEXT = """
query RetrieveContext($in: RetrieveContextInput!) {
  retrieveContext(input: $in) {
    items { text score sourceBackend alsoFoundIn memoryType nativeId nativeUri ref { id } }
    backends { backend outcome latencyMs error itemCount }
    conflicts { kind backends nativeIds message }
    traceId
  }
}"""

COMMIT_SESSION = (
    """
mutation CommitSession($in: CommitSessionInput!) {
  commitSession(input: $in) { created job { ...JobFields } }
}"""
    + JOB_FIELDS
)

RECORD_FEEDBACK = (
    """
mutation RecordMemoryFeedback($in: RecordMemoryFeedbackInput!) {
  recordMemoryFeedback(input: $in) { created feedback { ...FeedbackFields } }
}"""
    + FEEDBACK_FIELDS
    + JOB_FIELDS
)

REVIEW_FEEDBACK = (
    """
mutation ReviewMemoryFeedback($in: ReviewMemoryFeedbackInput!) {
  reviewMemoryFeedback(input: $in) { feedback { ...FeedbackFields } }
}"""
    + FEEDBACK_FIELDS
    + JOB_FIELDS
)

JOB = (
    """
query Job($id: ID!) {
  node(id: $id) { ...JobFields }
}"""
    + JOB_FIELDS
)

JOB_UPDATED = (
    """
subscription JobUpdated($id: ID!) {
  jobUpdated(id: $id) { ...JobFields }
}"""
    + JOB_FIELDS
)

ERASURE_REQUEST_FIELDS = (
    """
fragment ErasureRequestFields on ErasureRequest {
  id workspaceId userId agentId namespace status createdAt finishedAt
  job { ...JobFields }
  backends { backend outcome verified residue detail }
}"""
    + JOB_FIELDS
)

ERASE_SUBJECT = (
    """
mutation EraseSubject($in: EraseSubjectInput!) {
  eraseSubject(input: $in) { created request { ...ErasureRequestFields } }
}"""
    + ERASURE_REQUEST_FIELDS
)

ERASURE_REQUEST = (
    """
query ErasureRequest($id: ID!) {
  erasureRequest(id: $id) { ...ErasureRequestFields }
}"""
    + ERASURE_REQUEST_FIELDS
)

MEMORY_REF = (
    """
query MemoryRef($id: ID!) {
  memoryRef(id: $id) { ...RefGraph }
}"""
    + REF_GRAPH
    + REF_FIELDS
    + FEEDBACK_FIELDS
    + JOB_FIELDS
)

MEMORY_REFS = (
    """
query MemoryRefs($filter: MemoryRefFilter, $first: Int, $after: String) {
  memoryRefs(filter: $filter, first: $first, after: $after) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { node { ...RefGraph } }
  }
}"""
    + REF_GRAPH
    + REF_FIELDS
    + FEEDBACK_FIELDS
    + JOB_FIELDS
)

SESSION = (
    """
query Session($workspaceId: ID!, $sessionId: ID!, $first: Int) {
  session(workspaceId: $workspaceId, sessionId: $sessionId) {
    id workspaceId sessionId
    refs(first: $first) { edges { node { ...RefGraph } } }
    jobs(first: $first) { edges { node { ...JobFields } } }
  }
}"""
    + REF_GRAPH
    + REF_FIELDS
    + FEEDBACK_FIELDS
    + JOB_FIELDS
)
