package policy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/policy"
)

// Thresholds the detectors are held to on the corpus.
const (
	minRecall         = 0.95
	maxFalsePositives = 0.03
)

// redactionCorpus is testdata/redaction_corpus.json: positives (a text, the
// secret or personal value in it that must not survive, and its kind) and
// benign texts (prose, numbers, code in several languages) that must come
// out unchanged.
type redactionCorpus struct {
	Positives []struct{ Kind, Text, Secret string }
	Benign    []struct{ Text string }
}

func loadCorpus(t testing.TB) redactionCorpus {
	t.Helper()
	raw, err := os.ReadFile("testdata/redaction_corpus.json")
	require.NoError(t, err)
	var c redactionCorpus
	require.NoError(t, json.Unmarshal(raw, &c))
	return c
}

// TestCorpusRecallAndFalsePositives runs the corpus through the default
// policy and reports, per kind, how many values were caught (the value no
// longer appears) and under which kind, and how many benign texts were
// changed; it fails below 95 % recall or above 3 % false positives.
func TestCorpusRecallAndFalsePositives(t *testing.T) {
	t.Parallel()
	c := loadCorpus(t)
	require.GreaterOrEqual(t, len(c.Positives), 300)
	require.GreaterOrEqual(t, len(c.Benign), 200)
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)

	type tally struct{ total, caught, sameKind int }
	perKind := map[string]*tally{}
	caught := 0
	for _, p := range c.Positives {
		tl := perKind[p.Kind]
		if tl == nil {
			tl = &tally{}
			perKind[p.Kind] = tl
		}
		tl.total++
		out := r.Redact("ws", p.Text)
		if strings.Contains(out.Text, p.Secret) {
			t.Logf("missed %s: %q → %q", p.Kind, p.Text, out.Text)
			continue
		}
		tl.caught++
		caught++
		if out.Counts[p.Kind] > 0 {
			tl.sameKind++
		}
	}
	falsePositives := 0
	for _, b := range c.Benign {
		if out := r.Redact("ws", b.Text); out.Text != b.Text {
			falsePositives++
			t.Logf("false positive %v: %q → %q", out.Counts, b.Text, out.Text)
		}
	}
	kinds := make([]string, 0, len(perKind))
	for k := range perKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var report strings.Builder
	fmt.Fprintf(&report, "%-18s %6s %6s %9s\n", "kind", "total", "caught", "same kind")
	for _, k := range kinds {
		tl := perKind[k]
		fmt.Fprintf(&report, "%-18s %6d %6d %9d\n", k, tl.total, tl.caught, tl.sameKind)
	}
	recall := float64(caught) / float64(len(c.Positives))
	fpRate := float64(falsePositives) / float64(len(c.Benign))
	fmt.Fprintf(&report, "recall %d/%d (%.1f %%), false positives %d/%d (%.1f %%)",
		caught, len(c.Positives), 100*recall, falsePositives, len(c.Benign), 100*fpRate)
	t.Log("\n" + report.String())
	require.GreaterOrEqual(t, recall, minRecall, "recall")
	require.LessOrEqual(t, fpRate, maxFalsePositives, "false positives")
}
