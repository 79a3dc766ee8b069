package policy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/memory-gateway/memory-gateway/policy"
)

// The external corpus is built from other projects' test data (gitleaks'
// rule tests, detect-secrets' plugin tests, Presidio's recognizer tests,
// libphonenumber's example numbers) by testdata/external/gen; see
// testdata/external/SOURCES.md. It is not kept in this repository: the
// test reads it from $EXTERNAL_REDACTION_CORPUS, from testdata/external/corpus
// (where the generator writes it), or from the shared folder beside the
// checkout, and skips when none is there.
var externalCorpusDirs = []string{
	os.Getenv("EXTERNAL_REDACTION_CORPUS"),
	filepath.Join("testdata", "external", "corpus"),
	filepath.Join("..", "..", "shared", "redaction-external-corpus"),
}

// externalCorpusFiles are the generator's outputs, one per upstream source.
var externalCorpusFiles = []string{"gitleaks.json", "detect-secrets.json", "presidio.json", "libphonenumber.json"}

// The targets on corpora the detectors were not written with: the engine
// is held to them, and to the floors below.
const (
	targetExternalRecall         = 0.97
	targetExternalFalsePositives = 0.02
)

// The corpus the floors were measured on (generator at the pinned commits).
const (
	externalPositives = 2194
	externalBenign    = 622
)

// Floors: what the engine scores on the external corpus today, per kind
// (values caught) and in false positives (benign texts changed). A
// regression fails; an improvement should raise them.
var (
	externalCaughtFloor = map[string]int{
		"api_key": 852, "auth_header": 18, "aws_access_key": 19, "aws_secret_key": 1, "connection_string": 13,
		"email": 7, "github_token": 19, "iban": 157, "ip_address": 75, "jwt": 38, "openai_key": 14,
		"password": 101, "payment_card": 14, "phone": 737, "private_key": 8, "slack_token": 88,
	}
	externalMaxFalsePositives = 8
)

type externalCorpus struct {
	Positives []struct{ Kind, Text, Secret, Source string }
	Benign    []struct{ Text, Source string }
}

func loadExternalCorpus(t *testing.T) externalCorpus {
	t.Helper()
	for _, dir := range externalCorpusDirs {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, externalCorpusFiles[0])); err != nil {
			continue
		}
		var all externalCorpus
		for _, f := range externalCorpusFiles {
			raw, err := os.ReadFile(filepath.Join(dir, f))
			require.NoError(t, err)
			var c externalCorpus
			require.NoError(t, json.Unmarshal(raw, &c), f)
			all.Positives = append(all.Positives, c.Positives...)
			all.Benign = append(all.Benign, c.Benign...)
		}
		t.Logf("external corpus from %s", dir)
		return all
	}
	t.Skip("no external corpus: build it with `go run ./policy/testdata/external/gen` (see policy/testdata/external/SOURCES.md)")
	return externalCorpus{}
}

// redactionMarker is what the mask action leaves; a secret that is also a
// kind's name ("password") must not be found in the marker.
var redactionMarker = regexp.MustCompile(`\[REDACTED:[a-z_]+\]`)

// sourceGroup names the upstream a case comes from, for the report:
// gitleaks' generated and literal samples apart, since the generated ones
// all sit after a key named like a token.
func sourceGroup(source string) string {
	f := strings.Fields(source)
	switch {
	case len(f) == 0:
		return "?"
	case f[0] == "gitleaks" && len(f) >= 6:
		return "gitleaks " + f[4] + " " + f[5]
	case f[0] == "gitleaks" && len(f) >= 5:
		return "gitleaks " + f[4]
	}
	return f[0]
}

// placeholderLook is how documentation values and placeholders tend to
// look; the report splits the false positives by it, since the project
// means to leave placeholders alone (the split is a reading aid, not a
// label of the corpus).
var placeholderLook = regexp.MustCompile(`(?i)x{4,}|your[_-]|<[^>]+>|insert_|_here\b|\.\.\.|\*{4,}|#{4,}|\$\{|\{[a-z_]+\}|fake|example|dummy|abcdef|12345`)

func looksLikePlaceholder(text string) string {
	if placeholderLook.MatchString(text) {
		return "placeholder-like"
	}
	return "other"
}

type tally struct{ total, caught int }

func (t tally) String() string {
	return fmt.Sprintf("%4d/%-4d %5.1f %%", t.caught, t.total, 100*float64(t.caught)/float64(max(t.total, 1)))
}

// TestExternalCorpusRecallAndFalsePositives runs the external corpus
// through the default policy, reports recall per kind and per source and
// the false positives, logs every miss and false positive, and fails when
// the engine falls below what it scored when the floors were set.
func TestExternalCorpusRecallAndFalsePositives(t *testing.T) {
	t.Parallel()
	c := loadExternalCorpus(t)
	require.Equal(t, externalPositives, len(c.Positives), "the corpus changed: re-measure and update the floors")
	require.Equal(t, externalBenign, len(c.Benign), "the corpus changed: re-measure and update the floors")
	r, err := policy.NewRedactor(policy.FileConfig{})
	require.NoError(t, err)

	perKind, perSource := map[string]*tally{}, map[string]*tally{}
	count := func(m map[string]*tally, key string, caught bool) {
		if m[key] == nil {
			m[key] = &tally{}
		}
		m[key].total++
		if caught {
			m[key].caught++
		}
	}
	var overall tally
	var misses []string
	for _, p := range c.Positives {
		out := r.Redact("ws", p.Text)
		caught := !strings.Contains(redactionMarker.ReplaceAllString(out.Text, ""), p.Secret)
		count(perKind, p.Kind, caught)
		count(perSource, sourceGroup(p.Source), caught)
		overall.total++
		if caught {
			overall.caught++
		} else {
			misses = append(misses, fmt.Sprintf("missed %s [%s]: %q → %q", p.Kind, p.Source, p.Text, out.Text))
		}
	}
	fpPerSource, fpPerLook := map[string]*tally{}, map[string]*tally{}
	falsePositives := 0
	var fps []string
	for _, b := range c.Benign {
		out := r.Redact("ws", b.Text)
		changed := out.Text != b.Text
		count(fpPerSource, sourceGroup(b.Source), changed)
		count(fpPerLook, looksLikePlaceholder(b.Text), changed)
		if changed {
			falsePositives++
			fps = append(fps, fmt.Sprintf("false positive %v [%s]: %q → %q", out.Counts, b.Source, b.Text, out.Text))
		}
	}

	var report strings.Builder
	writeTallies := func(title string, m map[string]*tally) {
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(&report, "%s\n", title)
		for _, k := range keys {
			fmt.Fprintf(&report, "  %-28s %s\n", k, m[k])
		}
	}
	writeTallies("recall by kind", perKind)
	writeTallies("recall by source", perSource)
	writeTallies("false positives by source (changed/benign)", fpPerSource)
	writeTallies("false positives by look (changed/benign)", fpPerLook)
	recall := float64(overall.caught) / float64(overall.total)
	fpRate := float64(falsePositives) / float64(len(c.Benign))
	fmt.Fprintf(&report, "recall %s (target %.0f %%), false positives %d/%d = %.1f %% (target ≤ %.0f %%)",
		overall, 100*targetExternalRecall, falsePositives, len(c.Benign), 100*fpRate, 100*targetExternalFalsePositives)
	t.Log("\n" + report.String())
	for _, m := range misses {
		t.Log(m)
	}
	for _, f := range fps {
		t.Log(f)
	}
	require.GreaterOrEqual(t, recall, targetExternalRecall, "recall on the external corpus")
	require.LessOrEqual(t, fpRate, targetExternalFalsePositives, "false positives on the external corpus")

	kinds := make([]string, 0, len(perKind))
	for k := range perKind {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, kind := range kinds {
		t.Run(kind, func(t *testing.T) {
			require.GreaterOrEqual(t, perKind[kind].caught, externalCaughtFloor[kind], "values of kind %s caught", kind)
		})
	}
	require.LessOrEqual(t, falsePositives, externalMaxFalsePositives, "benign texts changed")
}
