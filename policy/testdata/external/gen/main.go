// Command gen rebuilds the external redaction corpus: it extracts the test
// cases of public detectors (gitleaks' rules, detect-secrets' plugin tests,
// Presidio's recognizer tests) and libphonenumber's example numbers from
// snapshots of their repositories at pinned commits, and writes one JSON file
// per source in the format of policy/testdata/redaction_corpus.json.
//
//	go run ./policy/testdata/external/gen -mirror /work/.mirror -out policy/testdata/external/corpus
//
// The snapshots are bare git directories named <owner>+<name>/repo under
// -mirror; each source is read at the commit pinned in sources below, so a
// rebuild gives the same files. Nothing here is part of the server.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
)

// sources are the upstream repositories at the commits the corpus was built
// from; SOURCES.md describes the same.
var sources = map[string]snapshot{
	"gitleaks": {
		Repo: "gitleaks/gitleaks", Commit: "b58d3f102cf3a2c84cb7f923d05c25c9b1aed84b",
		Tag: "v8.30.0-27-gb58d3f10", License: "MIT",
	},
	"detect-secrets": {
		Repo: "Yelp/detect-secrets", Commit: "5e141933554a0b74e7341841f318be21e895339c",
		Tag: "v1.5.0-50-g5e14193", License: "Apache-2.0",
	},
	"presidio": {
		Repo: "microsoft/presidio", Commit: "0aa9f8e44275cb52c00fbbebe19168e934e1f076",
		Tag: "2.2.363-18-g0aa9f8e44", License: "MIT",
	},
	"libphonenumber": {
		Repo: "google/libphonenumber", Commit: "f7e3e88c92b905c8d6edb81f336dbe25edc05b52",
		Tag: "v8.10.11-806-gf7e3e88c9", License: "Apache-2.0",
	},
}

// licenseFiles are copied beside the corpus: the upstream license texts and
// notices that travel with data taken from these repositories.
var licenseFiles = map[string][]string{
	"gitleaks":       {"LICENSE"},
	"detect-secrets": {"LICENSE"},
	"presidio":       {"LICENSE", "NOTICE"},
	"libphonenumber": {"LICENSE"},
}

// positive is a text holding one value that must not survive redaction.
type positive struct {
	Kind   string `json:"kind"`
	Text   string `json:"text"`
	Secret string `json:"secret"`
	Source string `json:"source"`
}

// benign is a text that must come out unchanged.
type benign struct {
	Text   string `json:"text"`
	Source string `json:"source"`
}

// exclusion records upstream cases left out of the corpus and why, so that
// what the engine does not claim to detect is not counted as a miss.
type exclusion struct {
	Source string `json:"source"`
	Label  string `json:"label"`
	Count  int    `json:"count"`
	Reason string `json:"reason"`
}

type corpusFile struct {
	Upstream  snapshot    `json:"upstream"`
	Positives []positive  `json:"positives"`
	Benign    []benign    `json:"benign"`
	Excluded  []exclusion `json:"excluded"`
}

// placeholder is a documentation value's run of x (ghp_xxxx…, AKCxxxxxxxxxx).
var placeholder = regexp.MustCompile(`(?i)x{6,}`)

// add appends p unless the same text and secret is there already (upstream
// test tables repeat cases across tests).
func (c *corpusFile) add(p positive) {
	if placeholder.MatchString(p.Secret) {
		c.exclude(strings.Join(strings.Fields(p.Source)[:2], " "), p.Kind,
			"an upstream positive written as a placeholder (a run of x); the project leaves documentation values unmasked")
		return
	}
	for _, q := range c.Positives {
		if q.Text == p.Text && q.Secret == p.Secret {
			return
		}
	}
	c.Positives = append(c.Positives, p)
}

// addBenign appends b unless its text is there already or is the text of a
// positive (a case that one upstream test calls negative for its own
// detector and another calls positive is not benign).
func (c *corpusFile) addBenign(b benign) {
	for _, q := range c.Benign {
		if q.Text == b.Text {
			return
		}
	}
	c.Benign = append(c.Benign, b)
}

// emailAddress finds an email address in a text.
var emailAddress = regexp.MustCompile(`[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}`)

// addSecretNegative adds an upstream secret detector's negative as benign,
// unless it holds an email address: that is personal data the engine masks
// on purpose, negative only for a detector of secrets.
func (c *corpusFile) addSecretNegative(b benign, source string) {
	if emailAddress.MatchString(b.Text) {
		c.exclude(source, "negative", "holds an email address, which the engine masks as personal data (a negative only for a secret detector)")
		return
	}
	c.addBenign(b)
}

func (c *corpusFile) exclude(source, label, reason string) {
	for i := range c.Excluded {
		if c.Excluded[i].Source == source && c.Excluded[i].Label == label && c.Excluded[i].Reason == reason {
			c.Excluded[i].Count++
			return
		}
	}
	c.Excluded = append(c.Excluded, exclusion{Source: source, Label: label, Count: 1, Reason: reason})
}

// finish drops benign texts that also hold a positive's secret and sorts
// the exclusions, so the file is stable.
func (c *corpusFile) finish() {
	kept := c.Benign[:0]
	for _, b := range c.Benign {
		clash := false
		for _, p := range c.Positives {
			if b.Text == p.Text || strings.Contains(b.Text, p.Secret) {
				clash = true
				break
			}
		}
		if !clash {
			kept = append(kept, b)
		}
	}
	c.Benign = kept
	if c.Benign == nil {
		c.Benign = []benign{}
	}
	if c.Excluded == nil {
		c.Excluded = []exclusion{}
	}
	sort.Slice(c.Excluded, func(i, j int) bool {
		a, b := c.Excluded[i], c.Excluded[j]
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.Label < b.Label
	})
}

func main() {
	mirror := flag.String("mirror", "/work/.mirror", "directory holding the snapshots as <owner>+<name>/repo")
	out := flag.String("out", "policy/testdata/external/corpus", "directory the corpus is written to")
	flag.Parse()
	log.SetFlags(0)

	builders := []struct {
		name  string
		build func(snapshot) (*corpusFile, error)
	}{
		{"gitleaks", buildGitleaks},
		{"detect-secrets", buildDetectSecrets},
		{"presidio", buildPresidio},
		{"libphonenumber", buildLibphonenumber},
	}
	if err := os.MkdirAll(filepath.Join(*out, "licenses"), 0o755); err != nil {
		log.Fatal(err)
	}
	for _, b := range builders {
		src := sources[b.name]
		src.gitDir = filepath.Join(*mirror, strings.Replace(src.Repo, "/", "+", 1), "repo")
		if _, err := os.Stat(src.gitDir); err != nil {
			log.Printf("%s: no snapshot at %s, skipped", b.name, src.gitDir)
			continue
		}
		c, err := b.build(src)
		if err != nil {
			log.Fatalf("%s: %v", b.name, err)
		}
		c.Upstream = src
		c.finish()
		if err := writeJSON(filepath.Join(*out, b.name+".json"), c); err != nil {
			log.Fatal(err)
		}
		for _, f := range licenseFiles[b.name] {
			text, err := src.show(f)
			if err != nil {
				log.Fatal(err)
			}
			dst := filepath.Join(*out, "licenses", b.name+"-"+f)
			if err := os.WriteFile(dst, []byte(text), 0o644); err != nil {
				log.Fatal(err)
			}
		}
		excluded := 0
		for _, e := range c.Excluded {
			excluded += e.Count
		}
		fmt.Printf("%-15s %5d positives %5d benign %5d excluded\n", b.name, len(c.Positives), len(c.Benign), excluded)
	}
}

func writeJSON(path string, v any) error {
	raw, err := json.MarshalIndent(v, "", " ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(raw, '\n'), 0o644)
}

func sortStrings(s []string) { sort.Strings(s) }
