package mcpserver

import (
	"fmt"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"

	"github.com/memory-gateway/memory-gateway/backendtype"
	"github.com/memory-gateway/memory-gateway/gateway"
)

// enumAt is a closed set of values at a path of a tool's schema:
// "turns.[].role" is the role of every item of turns.
type enumAt struct {
	path   string
	values []string
}

// setEnums writes each closed set into the schema, one casing for inputs
// and outputs alike: the GraphQL enum's (upper case).
func setEnums(schema *jsonschema.Schema, sets []enumAt) error {
	for _, set := range sets {
		node := schema
		for _, step := range strings.Split(set.path, ".") {
			switch {
			case node == nil:
			case step == "[]":
				node = node.Items
			default:
				node = node.Properties[step]
			}
		}
		if node == nil {
			return fmt.Errorf("no schema at %s", set.path)
		}
		if len(set.values) == 0 {
			continue // nothing configured (a proxy's own definitions): no enum rather than an empty one
		}
		node.Enum = make([]any, len(set.values))
		for i, v := range set.values {
			node.Enum[i] = v
		}
	}
	return nil
}

// The closed sets the tools name, as the GraphQL schema does.
var (
	operationStatuses = enums([]gateway.OperationStatus{gateway.OperationSuccess, gateway.OperationPartialSuccess,
		gateway.OperationPending, gateway.OperationSkipped, gateway.OperationFailed})
	refTypes = enums([]backendtype.RefType{backendtype.RefTypeSessionArchive, backendtype.RefTypeMessageMemory, backendtype.RefTypeLongTermMemory,
		backendtype.RefTypeEpisodicMemory, backendtype.RefTypeProfile, backendtype.RefTypePreference, backendtype.RefTypeEntity, backendtype.RefTypeEvent,
		backendtype.RefTypeCase, backendtype.RefTypeSkill, backendtype.RefTypeDraftReview})
	refStatuses = enums([]gateway.RefStatus{gateway.RefStatusSuccess, gateway.RefStatusPending, gateway.RefStatusSkipped,
		gateway.RefStatusFailed, gateway.RefStatusSuperseded, gateway.RefStatusDeleted})
	retrievalOutcomes = enums([]gateway.RetrievalOutcome{gateway.RetrievalOK, gateway.RetrievalTimeout, gateway.RetrievalError, gateway.RetrievalSkipped})
	jobKinds          = enums([]gateway.JobKind{gateway.JobKindCommit, gateway.JobKindFeedbackRouting, gateway.JobKindErasure})
	jobStatuses       = enums([]gateway.JobStatus{gateway.JobAccepted, gateway.JobRunning, gateway.JobSuccess, gateway.JobPartialSuccess, gateway.JobFailed})
	outboxStatuses    = enums([]gateway.OutboxStatus{gateway.OutboxPending, gateway.OutboxProcessing, gateway.OutboxSuccess,
		gateway.OutboxSkipped, gateway.OutboxDeadLetter})
	feedbackStatuses = enums([]gateway.FeedbackStatus{gateway.FeedbackReceived, gateway.FeedbackAccepted, gateway.FeedbackRejected,
		gateway.FeedbackApplied, gateway.FeedbackSkipped, gateway.FeedbackUnsupported, gateway.FeedbackFailed})
	textUnavailable = enums([]gateway.TextUnavailable{gateway.TextNotReadable, gateway.TextNotFound, gateway.TextBackendFailed})
	erasureStatuses = enums([]gateway.ErasureStatus{gateway.ErasureAccepted, gateway.ErasureRunning, gateway.ErasureCompleted,
		gateway.ErasurePartial, gateway.ErasureFailed})
)
