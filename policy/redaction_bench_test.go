package policy_test

import (
	"strings"
	"testing"

	"github.com/memory-gateway/memory-gateway/policy"
)

// mixedText is the benchmark's input: the corpus's benign texts (prose,
// numbers, code in several languages) and, one in ten, a positive, joined
// into about 64 KB — a large turn of ordinary conversation.
func mixedText(b *testing.B) string {
	c := loadCorpus(b)
	var sb strings.Builder
	for i := 0; sb.Len() < 64<<10; i++ {
		sb.WriteString(c.Benign[i%len(c.Benign)].Text)
		sb.WriteString("\n")
		if i%10 == 0 {
			sb.WriteString(c.Positives[(i/10)%len(c.Positives)].Text)
			sb.WriteString("\n")
		}
	}
	return sb.String()
}

// BenchmarkRedact measures redaction throughput (MB/s) of the default
// policy on one core.
func BenchmarkRedact(b *testing.B) {
	r, err := policy.NewRedactor(policy.FileConfig{})
	if err != nil {
		b.Fatal(err)
	}
	text := mixedText(b)
	b.SetBytes(int64(len(text)))
	b.ReportAllocs()
	for b.Loop() {
		r.Redact("ws", text)
	}
}
