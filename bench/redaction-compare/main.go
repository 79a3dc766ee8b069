// Command redaction-compare measures the gateway's redaction engine and
// gitleaks' detector library in the same run, on the same texts: the
// project's own corpus (policy/testdata/redaction_corpus.json) and the
// external one built from other projects' test data
// (policy/testdata/external, see SOURCES.md there). It prints recall
// (secrets, personal data, overall), false positives and throughput on one
// core as a Markdown table.
//
//	cd bench/redaction-compare && go run . [-root ../..] [-external DIR]
//
// It is its own module so that the server does not depend on gitleaks.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"time"

	"github.com/rs/zerolog"
	"github.com/zricethezav/gitleaks/v8/detect"
	"github.com/zricethezav/gitleaks/v8/logging"

	"github.com/memory-gateway/memory-gateway/policy"
)

// gitleaksVersion is the module version go.mod pins, for the report.
const gitleaksVersion = "v8.30.1"

type positive struct{ Kind, Text, Secret, Source string }

type benign struct{ Text, Source string }

type corpus struct {
	name      string
	positives []positive
	benign    []benign
}

// piiKinds are personal data; every other kind is a secret.
var piiKinds = map[string]bool{"email": true, "phone": true, "payment_card": true, "iban": true, "ip_address": true}

// redactor is one engine under test: it returns the text as it would be
// stored.
type redactor struct {
	name   string
	redact func(string) string
}

func main() {
	root := flag.String("root", "../..", "the repository's root")
	external := flag.String("external", "", "the external corpus directory (default: $EXTERNAL_REDACTION_CORPUS, policy/testdata/external/corpus, ../shared/redaction-external-corpus)")
	minTime := flag.Duration("speed-time", 2*time.Second, "how long each throughput measurement runs at least")
	misses := flag.String("misses", "", "write every miss and false positive of each engine to this file")
	flag.Parse()
	log.SetFlags(0)
	runtime.GOMAXPROCS(1)
	logging.Logger = zerolog.Nop()

	own, err := loadOwn(filepath.Join(*root, "policy", "testdata", "redaction_corpus.json"))
	if err != nil {
		log.Fatal(err)
	}
	corpora := []corpus{own}
	if dir := findExternal(*root, *external); dir != "" {
		ext, parts, err := loadExternal(dir)
		if err != nil {
			log.Fatal(err)
		}
		// gitleaks' part is its own rule tests, which it is written to
		// pass; the other parts show both engines on data neither was
		// written with.
		corpora = append(corpora, ext)
		corpora = append(corpora, parts...)
	} else {
		log.Print("no external corpus found: build it with `go run ./policy/testdata/external/gen` (policy/testdata/external/SOURCES.md)")
	}

	engine, err := policy.NewRedactor(policy.FileConfig{})
	if err != nil {
		log.Fatal(err)
	}
	gl, err := detect.NewDetectorDefaultConfig()
	if err != nil {
		log.Fatal(err)
	}
	engines := []redactor{
		{name: "this engine (" + policy.RulesVersion + ")", redact: func(s string) string { return engine.Redact("ws", s).Text }},
		{name: "gitleaks " + gitleaksVersion + " (default config)", redact: func(s string) string {
			// gitleaks reports findings; a redactor built on it would
			// replace each finding's secret.
			for _, f := range gl.DetectString(s) {
				if f.Secret != "" {
					s = strings.ReplaceAll(s, f.Secret, "[REDACTED]")
				}
			}
			return s
		}},
	}

	var report strings.Builder
	var ratios []string
	fmt.Printf("Machine: %s, %d CPUs visible, measured on one core (GOMAXPROCS=1), %s.\n\n", cpuModel(), runtime.NumCPU(), runtime.Version())
	fmt.Println("| corpus | engine | recall, secrets | recall, personal data | recall, overall | false positives | MB/s, one core |")
	fmt.Println("|---|---|---|---|---|---|---|")
	for _, c := range corpora {
		var speeds []float64
		for _, e := range engines {
			sec, pii, all, fp := score(c, e, &report)
			mbs := throughput(c, e, *minTime)
			speeds = append(speeds, mbs)
			fmt.Printf("| %s | %s | %s | %s | %s | %s | %.1f |\n", c.name, e.name, sec, pii, all, fp, mbs)
		}
		ratios = append(ratios, fmt.Sprintf("%s: this engine runs at %.1f× gitleaks' throughput.", c.name, speeds[0]/speeds[1]))
	}
	fmt.Println()
	for _, r := range ratios {
		fmt.Println(r)
	}
	if *misses != "" {
		if err := os.WriteFile(*misses, []byte(report.String()), 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

type ratio struct{ n, of int }

func (r ratio) String() string {
	if r.of == 0 {
		return "—"
	}
	return fmt.Sprintf("%.1f %% (%d/%d)", 100*float64(r.n)/float64(r.of), r.n, r.of)
}

// redactionMarker is what either engine leaves; a secret that is also a
// kind's name ("password") must not be found in the marker.
var redactionMarker = regexp.MustCompile(`\[REDACTED(?::[a-z_]+)?\]`)

// score counts the positives whose secret no longer appears (secrets and
// personal data apart) and the benign texts that were changed.
func score(c corpus, e redactor, report *strings.Builder) (secrets, pii, all, fps ratio) {
	for _, p := range c.positives {
		out := e.redact(p.Text)
		caught := !strings.Contains(redactionMarker.ReplaceAllString(out, ""), p.Secret)
		r := &secrets
		if piiKinds[p.Kind] {
			r = &pii
		}
		r.of++
		all.of++
		if caught {
			r.n++
			all.n++
		} else {
			fmt.Fprintf(report, "%s | %s | missed %s [%s]: %q\n", c.name, e.name, p.Kind, p.Source, p.Text)
		}
	}
	for _, b := range c.benign {
		fps.of++
		if out := e.redact(b.Text); out != b.Text {
			fps.n++
			fmt.Fprintf(report, "%s | %s | false positive [%s]: %q → %q\n", c.name, e.name, b.Source, b.Text, out)
		}
	}
	return secrets, pii, all, fps
}

// throughput runs the engine over every text of the corpus, one text at a
// time as turns arrive, until minTime has passed, and returns MB/s.
func throughput(c corpus, e redactor, minTime time.Duration) float64 {
	texts := make([]string, 0, len(c.positives)+len(c.benign))
	for _, p := range c.positives {
		texts = append(texts, p.Text)
	}
	for _, b := range c.benign {
		texts = append(texts, b.Text)
	}
	var bytes int
	start := time.Now()
	for time.Since(start) < minTime {
		for _, t := range texts {
			e.redact(t)
			bytes += len(t)
		}
	}
	return float64(bytes) / 1e6 / time.Since(start).Seconds()
}

func loadOwn(path string) (corpus, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return corpus{}, err
	}
	var c struct {
		Positives []positive
		Benign    []benign
	}
	if err := json.Unmarshal(raw, &c); err != nil {
		return corpus{}, fmt.Errorf("%s: %w", path, err)
	}
	return corpus{name: "project corpus", positives: c.Positives, benign: c.Benign}, nil
}

// externalFiles are the generator's outputs.
var externalFiles = []string{"gitleaks.json", "detect-secrets.json", "presidio.json", "libphonenumber.json"}

func findExternal(root, flagDir string) string {
	for _, dir := range []string{
		flagDir,
		os.Getenv("EXTERNAL_REDACTION_CORPUS"),
		filepath.Join(root, "policy", "testdata", "external", "corpus"),
		filepath.Join(root, "..", "shared", "redaction-external-corpus"),
	} {
		if dir == "" {
			continue
		}
		if _, err := os.Stat(filepath.Join(dir, externalFiles[0])); err == nil {
			return dir
		}
	}
	return ""
}

// loadExternal returns the whole external corpus and its parts: gitleaks'
// rule tests, and the other sources together.
func loadExternal(dir string) (corpus, []corpus, error) {
	all := corpus{name: "external corpus"}
	parts := []corpus{{name: "… of it gitleaks' rule tests"}, {name: "… of it detect-secrets, Presidio, libphonenumber"}}
	for _, f := range externalFiles {
		raw, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil {
			return corpus{}, nil, err
		}
		var part struct {
			Positives []positive
			Benign    []benign
		}
		if err := json.Unmarshal(raw, &part); err != nil {
			return corpus{}, nil, fmt.Errorf("%s: %w", f, err)
		}
		all.positives = append(all.positives, part.Positives...)
		all.benign = append(all.benign, part.Benign...)
		p := &parts[1]
		if f == "gitleaks.json" {
			p = &parts[0]
		}
		p.positives = append(p.positives, part.Positives...)
		p.benign = append(p.benign, part.Benign...)
	}
	return all, parts, nil
}

func cpuModel() string {
	raw, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
