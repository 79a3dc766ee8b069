package gateway

import (
	"encoding/json"
	"math"
)

// Schema versions written into control-plane metadata so readers can evolve.
const (
	SchemaVersionCommitRef  = "memory-gateway.commit-ref.v2"
	SchemaVersionControlRef = "memory-gateway.control-ref.v2"
	SchemaVersionOutbox     = "memory-gateway.outbox.v2"
)

// blockedMetadataKeys are dropped at any depth: they are where raw content
// tends to hide.
var blockedMetadataKeys = map[string]struct{}{
	"content":      {},
	"conversation": {},
	"messages":     {},
	"raw_request":  {},
	"transcript":   {},
}

// backendResultKeys is the allow-list of fields kept from a backend response.
var backendResultKeys = []string{
	"status", "reason", "native_id", "native_uri", "id", "uri", "url", "memory_id",
	"session_id", "retryable", "error_code", "error", "error_message", "latency_ms",
}

// backendNestedMetadataKeys are the fields kept from a backend response's nested
// "metadata" object.
var backendNestedMetadataKeys = []string{"reason", "backend_request_id", "latency_ms", "schema_version"}

// SafeMetadata filters metadata for the control plane: blocked keys are dropped
// recursively; scalars and lists of scalars are kept; nested objects are kept
// when something survives in them; anything else is dropped.
func SafeMetadata(in map[string]any) Metadata {
	out := Metadata{}
	for key, value := range in {
		if _, blocked := blockedMetadataKeys[key]; blocked {
			continue
		}
		switch v := value.(type) {
		case map[string]any:
			if nested := SafeMetadata(v); len(nested) > 0 {
				out[key] = nested
			}
		case []any:
			out[key] = scalarsOnly(v)
		case []string:
			list := make([]any, len(v))
			for i, s := range v {
				list[i] = s
			}
			out[key] = list
		default:
			if s, ok := scalar(v); ok {
				out[key] = s
			}
		}
	}
	return out
}

func scalarsOnly(in []any) []any {
	out := make([]any, 0, len(in))
	for _, item := range in {
		if s, ok := scalar(item); ok && s != nil {
			out = append(out, s)
		}
	}
	return out
}

// scalar normalises JSON scalars (including json.Number and Go integer types)
// and reports whether v is one.
func scalar(v any) (any, bool) {
	switch t := v.(type) {
	case nil:
		return nil, true
	case string, bool:
		return t, true
	case float64:
		if math.IsNaN(t) || math.IsInf(t, 0) {
			return nil, false
		}
		return t, true
	case float32:
		return float64(t), true
	case int:
		return t, true
	case int32:
		return int(t), true
	case int64:
		return t, true
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return i, true
		}
		if f, err := t.Float64(); err == nil {
			return f, true
		}
		return nil, false
	default:
		return nil, false
	}
}

// BackendResultMetadata reduces a backend response to the allow-list, so no
// content a backend echoes back reaches the control plane.
func BackendResultMetadata(in map[string]any) Metadata {
	out := Metadata{}
	for _, key := range backendResultKeys {
		if v, ok := in[key]; ok {
			if s, isScalar := scalar(v); isScalar {
				out[key] = s
			}
		}
	}
	if nested, ok := in["metadata"].(map[string]any); ok {
		for _, key := range backendNestedMetadataKeys {
			if v, ok := nested[key]; ok {
				if s, isScalar := scalar(v); isScalar {
					out[key] = s
				}
			}
		}
	}
	return out
}

// metadataSize is the encoded size of metadata, used to bound client metadata.
func metadataSize(m map[string]any) int {
	b, err := json.Marshal(m)
	if err != nil {
		return math.MaxInt
	}
	return len(b)
}
