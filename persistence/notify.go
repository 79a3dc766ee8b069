package persistence

import (
	"strings"
)

// OutboxChannel is the PostgreSQL notification channel that wakes workers
// when outbox work is inserted. Notifications carry no payload: they are
// hints, and workers always poll as well.
const OutboxChannel = "memory_gateway_outbox"

// JobsChannel carries the ids of changed commit jobs, comma-separated.
const JobsChannel = "memory_gateway_jobs"

// notifyPayloadMax keeps NOTIFY payloads well under PostgreSQL's 8000 bytes.
const notifyPayloadMax = 7000

// chunkIDs joins ids with commas into payloads of at most max bytes.
func chunkIDs(ids []string, max int) []string {
	var chunks []string
	var b strings.Builder
	for _, id := range ids {
		if b.Len() > 0 && b.Len()+1+len(id) > max {
			chunks = append(chunks, b.String())
			b.Reset()
		}
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(id)
	}
	if b.Len() > 0 {
		chunks = append(chunks, b.String())
	}
	return chunks
}
