// Every GraphQL document the console sends, as constants: the console
// builds no document at run time, so a deployment that limits keys to
// trusted documents can list exactly these (`memory-gateway
// trusted-documents` prints them). Keep each one a plain template literal:
// no ${…} and no backslashes.
export const DOCS = Object.freeze({
  jobs: `query($filter: JobFilter, $after: String) { jobs(filter: $filter, first: 50, after: $after) { totalCount statusCounts { status count } pageInfo { hasNextPage endCursor }
        edges { node { id kind status workspaceId createdAt updatedAt startedAt finishedAt ... on CommitJob { sessionId } } } } }`,
  jobRow: `subscription($id: ID!) { jobUpdated(id: $id) { id kind status workspaceId createdAt updatedAt startedAt finishedAt ... on CommitJob { sessionId } } }`,
  jobsFeed: `subscription($workspaceId: ID!, $sessionId: ID) { commitJobsUpdated(workspaceId: $workspaceId, sessionId: $sessionId) { id kind status workspaceId sessionId createdAt updatedAt startedAt finishedAt } }`,
  job: `query($id: ID!) { node(id: $id) { __typename ... on Job { id kind status workspaceId errorMessage createdAt updatedAt startedAt finishedAt
        outboxEvents(first: 20) { edges { node { id backend operation status attemptCount maxAttempts lastError lastErrorCode nextRetryAt lockedBy leaseExpiresAt completedAt createdAt
          waitReason { reason backend until workerId } attempts(first: 25) { number attempt workerId outcome errorCode errorMessage startedAt finishedAt durationMs } } } } }
        ... on CommitJob { userId agentId sessionId namespace refs(first: 100) { edges { node { id backend refType status createdAt } } } }
        ... on ErasureJob { request { id userId status } } } }`,
  jobStatus: `subscription($id: ID!) { jobUpdated(id: $id) { id status updatedAt } }`,
  deadLetters: `query($filter: OutboxEventFilter) { outboxEvents(filter: $filter, first: 100) { totalCount edges { node { id backend operation workspaceId attemptCount lastError lastErrorCode updatedAt owner { id kind } } } } }`,
  redriveEvents: `mutation($f: OutboxEventFilter!) { redriveOutboxEvents(filter: $f) { redrivenCount } }`,
  redriveEvent: `mutation($id: ID!) { redriveOutboxEvent(id: $id) { id status } }`,
  sessionGraph: `query($ws: ID!, $s: ID!, $after: String) { session(workspaceId: $ws, sessionId: $s) { id
      refs(first: 50, after: $after) { pageInfo { hasNextPage endCursor } edges { node { id turnId backend refType status createdAt job { id }
        feedback(first: 5) { edges { node { id feedbackType status } } } } } }
      jobs(first: 10) { edges { node { id kind status outboxEvents(first: 10) { edges { node { id backend operation status attemptCount } } } } } } } }`,
  reviews: `query($filter: MemoryFeedbackFilter, $after: String) { feedback(filter: $filter, first: 50, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        edges { node { id feedbackType status workspaceId userId agentId namespace memoryRefId hasComment hasCorrection createdAt reviewedBy reviewedAt reviewReason resultReason
          ref { backend refType status } reviewTexts { blind comment correction memoryText memoryTextUnavailable } } } } }`,
  reviewMany: `mutation($in: ReviewMemoryFeedbacksInput!) { reviewMemoryFeedbacks(input: $in) { results { id feedback { id status } error { code message field } } } }`,
  review: `mutation($in: ReviewMemoryFeedbackInput!) { reviewMemoryFeedback(input: $in) { feedback { id status } } }`,
  backends: `query($ws: ID) { backends { backend healthy latencyMs error breakerState checkedAt }
        outboxSummaries(workspaceId: $ws) { backend summary { totalEvents pendingEvents processingEvents successEvents skippedEvents deadLetterEvents } } }`,
  erasures: `query($filter: ErasureRequestFilter) { erasureRequests(filter: $filter, first: 50) { edges { node { id workspaceId userId agentId namespace status requestedBy createdAt finishedAt
        job { id status } backends { backend outcome verified residue residueByKind { kind count counted erasable } detail } } } } }`,
  heals: `query($ws: ID) { ingestHeals(workspaceId: $ws) { backend failedRefs healing deadLettered unhealable } }`,
  sessions: `query($filter: SessionFilter, $after: String) { sessions(filter: $filter, first: 50, after: $after) { totalCount pageInfo { hasNextPage endCursor }
        edges { userId startedAt node { id workspaceId sessionId } } } }`,
  findSession: `query($s: ID!) { jobs(filter: { sessionId: $s }, first: 1) { edges { node { id workspaceId } } }
        memoryRefs(filter: { sessionId: $s }, first: 1) { edges { node { id workspaceId } } } }`,
  backendMetrics: `query { backendMetrics { replica source intervalSeconds windowSeconds backends { backend kind points { at callsPerSecond p95Ms } } } }`,
  nodeKind: `query($id: ID!) { node(id: $id) { __typename ... on Job { kind } } }`,
  nodeMemoryRef: `query($id: ID!) { node(id: $id) { __typename id ... on MemoryRef { workspaceId userId agentId sessionId turnId namespace backend refType status nativeId nativeUri gatewayId provenanceId errorMessage createdAt updatedAt supersededAt
    job { id } outboxEvent { id } supersededBy { id } feedback(first: 20) { edges { node { id } } } } } }`,
  nodeOutboxEvent: `query($id: ID!) { node(id: $id) { __typename id ... on OutboxEvent { workspaceId sessionId backend operation status attemptCount maxAttempts nextRetryAt lockedBy leaseExpiresAt lastError lastErrorCode createdAt completedAt owner { id } feedback { id } } } }`,
  nodeMemoryFeedback: `query($id: ID!) { node(id: $id) { __typename id ... on MemoryFeedback { workspaceId userId agentId namespace memoryRefId feedbackType status hasComment hasCorrection reviewedBy reviewedAt reviewReason resultReason createdAt appliedAt job { id } replacementRef { id } } } }`,
  nodeAuditEntry: `query($id: ID!) { node(id: $id) { __typename id ... on AuditEntry { workspaceId action principal targetType targetId namespace sessionId jobId createdAt } } }`,
  nodeErasureRequest: `query($id: ID!) { node(id: $id) { __typename id ... on ErasureRequest { workspaceId userId agentId namespace status requestedBy createdAt finishedAt job { id } } } }`,
  nodeSession: `query($id: ID!) { node(id: $id) { __typename id ... on Session { workspaceId sessionId } } }`,
});
