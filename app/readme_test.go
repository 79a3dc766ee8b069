package app

// Tests that run the documentation's shell examples as written.
//
// Which examples run. A fenced block whose info string is "sh run" is run by
// TestDocExamplesRun: verbatim, with bash, every block of a file in one
// shell in the file's order (so a later example reads the ids an earlier one
// kept in shell variables), against a gateway the test starts on a free
// loopback port. Two things are rewritten, nothing else: the gateway's
// address (localhost:8080 or 127.0.0.1:8080) becomes the test server's, and
// a webhook receiver's host (hooks.example.com) becomes 127.0.0.1, because
// tests send traffic only to loopback. curl is made to fail on an HTTP error
// (--fail-with-body). Each example — the blank-line-separated parts of a
// block — must exit 0, and every JSON answer it prints must have no "errors".
//
// Not run: blocks that build or start the gateway or run the suite (go run,
// go build, go install, go test, make), containers and clusters (docker,
// compose, kubectl, helm), and tools the tests do not install (websocat).
// The README's docker block is run by TestReadmeDockerExample, with docker
// and sudo standing in. Every README block that calls curl must be a run
// block, so a new example cannot be left out unnoticed.
//
// Files covered: README.md (dev mode: no keys, as its tour says) and
// docs/api.md (keys on: $ADMIN_KEY is an ADMIN key of workspace acme, made
// by keys create).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// docExamplesRequiredEnv, when set (as .ci/run sets it), makes a missing tool
// fail the examples' tests instead of skipping them.
const docExamplesRequiredEnv = "DOC_EXAMPLES_REQUIRED"

func requireTools(t *testing.T, tools ...string) {
	t.Helper()
	for _, tool := range tools {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv(docExamplesRequiredEnv) != "" {
				t.Fatalf("the examples need %s: %v", tool, err)
			}
			t.Skipf("the examples need %s: %v", tool, err)
		}
	}
}

// runBlockInfo is the info string of a fenced block the tests run.
const runBlockInfo = "sh run"

// docBlock is a fenced block of a document.
type docBlock struct {
	info string // the info string, after the opening fence
	text string
	line int // where the block starts (1-based), for messages
}

func docBlocks(t *testing.T, path string) []docBlock {
	t.Helper()
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	var blocks []docBlock
	var open *docBlock
	for i, line := range strings.Split(string(raw), "\n") {
		switch {
		case open == nil && strings.HasPrefix(line, "```"):
			open = &docBlock{info: strings.TrimSpace(strings.TrimPrefix(line, "```")), line: i + 1}
		case open != nil && strings.TrimSpace(line) == "```":
			blocks = append(blocks, *open)
			open = nil
		case open != nil:
			open.text += line + "\n"
		}
	}
	require.Nil(t, open, "%s: a block is never closed", path)
	return blocks
}

// docExamples splits a file's run blocks into examples (blank-line-separated
// parts), in the file's order.
func docExamples(t *testing.T, path string) []string {
	t.Helper()
	var examples []string
	for _, b := range docBlocks(t, path) {
		if b.info != runBlockInfo {
			continue
		}
		for _, part := range regexp.MustCompile(`\n\s*\n`).Split(b.text, -1) {
			if strings.TrimSpace(part) != "" {
				examples = append(examples, strings.TrimSpace(part))
			}
		}
	}
	return examples
}

// TestReadmeCurlExamplesAreRun: every README block that calls the gateway is
// a run block (see the top of this file for which blocks are run).
func TestReadmeCurlExamplesAreRun(t *testing.T) {
	t.Parallel()
	runBlocks := 0
	for _, b := range docBlocks(t, "../README.md") {
		if b.info == runBlockInfo {
			runBlocks++
			continue
		}
		require.False(t, strings.Contains(b.text, "curl "), "README.md:%d: a block that calls curl is a %q block", b.line, runBlockInfo)
	}
	require.NotZero(t, runBlocks, "the README's tour is run")
}

func TestDocExamplesRun(t *testing.T) {
	t.Parallel()
	requireTools(t, "bash", "curl", "grep", "sed", "tee")
	for _, tc := range []struct {
		file string
		// start starts the gateway the file's examples expect and returns
		// its address and the environment they read.
		start func(t *testing.T) (base string, env []string)
	}{
		{"README.md", func(t *testing.T) (string, []string) {
			return startServerWith(t, map[string]string{"DATABASE_URL": "file:" + filepath.Join(t.TempDir(), "gateway.db")}), nil
		}},
		{"docs/api.md", func(t *testing.T) (string, []string) {
			dir := t.TempDir()
			keys := filepath.Join(dir, "api-keys.json")
			var out, errs bytes.Buffer
			code := run(context.Background(), []string{"keys", "create", "--name", "admin", "--workspace", "acme", "--role", "ADMIN", "--grant", "ADMIN", "--file", keys},
				process{getenv: func(string) string { return "" }, stdout: &out, stderr: &errs})
			require.Zero(t, code, errs.String())
			base := startServerWith(t, map[string]string{
				"DATABASE_URL":  "file:" + filepath.Join(dir, "gateway.db"),
				"API_KEYS_FILE": keys,
				// The examples' receiver, rewritten to loopback.
				"WEBHOOK_ALLOW_HOSTS": "127.0.0.1",
			})
			return base, []string{"ADMIN_KEY=" + strings.TrimSpace(out.String())}
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			examples := docExamples(t, filepath.Join("..", tc.file))
			require.NotEmpty(t, examples, "%s has %q blocks", tc.file, runBlockInfo)
			base, env := tc.start(t)
			runExamples(t, base, env, examples)
		})
	}
}

// exampleMarker is printed before each example, so the output can be told
// apart per example.
const exampleMarker = "\n@@example %d@@\n"

// runExamples runs examples in one bash against the gateway at base (see the
// top of this file for what is rewritten), and checks each one's status and
// JSON answers.
func runExamples(t *testing.T, base string, env []string, examples []string) {
	t.Helper()
	addr := strings.TrimPrefix(base, "http://")
	rewrite := strings.NewReplacer("localhost:8080", addr, "127.0.0.1:8080", addr, "hooks.example.com", "127.0.0.1")
	script := []string{"set -euo pipefail", `curl() { command curl --fail-with-body "$@"; }`}
	for i, ex := range examples {
		script = append(script, fmt.Sprintf("printf '%s'", strings.ReplaceAll(exampleMarker, "%d", fmt.Sprint(i))), rewrite.Replace(ex))
	}
	cmd := exec.Command("bash", "-c", strings.Join(script, "\n"))
	cmd.Dir = t.TempDir()
	for _, kv := range os.Environ() {
		// A proxy must not take the examples' requests off loopback.
		if name, _, _ := strings.Cut(kv, "="); !strings.HasSuffix(strings.ToLower(name), "_proxy") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out // one pipe: the output stays in order
	runErr := cmd.Run()

	outputs := regexp.MustCompile(`\n@@example \d+@@\n`).Split(out.String(), -1)[1:]
	require.NotEmpty(t, outputs, "no example ran: %v\n%s", runErr, out.String())
	last := len(outputs) - 1
	require.NoError(t, runErr, "example %d exits 0:\n%s\n--- its output:\n%s", last+1, examples[last], outputs[last])
	require.Len(t, outputs, len(examples))
	for i, output := range outputs {
		if !strings.Contains(examples[i], "curl ") {
			continue
		}
		answers := jsonAnswers(output)
		require.NotEmpty(t, answers, "example %d prints an answer:\n%s\n--- its output:\n%s", i+1, examples[i], output)
		for _, a := range answers {
			_, failed := a["errors"]
			require.False(t, failed, "example %d answers without errors:\n%s\n--- its output:\n%s", i+1, examples[i], output)
		}
	}
}

// jsonAnswers returns the JSON objects in output: answers (several may
// follow each other on a line), NDJSON lines, and server-sent events' data.
func jsonAnswers(output string) []map[string]json.RawMessage {
	var answers []map[string]json.RawMessage
	for _, line := range strings.Split(output, "\n") {
		dec := json.NewDecoder(strings.NewReader(strings.TrimPrefix(line, "data: ")))
		for {
			var a map[string]json.RawMessage
			if err := dec.Decode(&a); err != nil {
				break
			}
			answers = append(answers, a)
		}
	}
	return answers
}

// TestReadmeDockerExample runs the README's docker block as
// TestDockerfileExampleStartsTheImage runs the Dockerfile's: docker and sudo
// stand in, ./memory-gateway is this build (so keys create is the real
// command), then serve starts as the run line starts the image. The block
// must give the keys file to the image's user, run the image as the
// Dockerfile's example does (same mounts inside, same settings), and its key
// must be accepted.
func TestReadmeDockerExample(t *testing.T) {
	t.Parallel()
	requireTools(t, "bash", "openssl", "sha256sum", "cut")
	var block string
	for _, b := range docBlocks(t, "../README.md") {
		if strings.Contains(b.text, "docker run ") {
			require.Empty(t, block, "README.md has one docker block")
			block = b.text
		}
	}
	require.NotEmpty(t, block, "README.md has a docker block")

	dir := t.TempDir()
	exe, err := os.Executable()
	require.NoError(t, err)
	standIn := fmt.Sprintf("#!/bin/sh\nexport %s=1 %s=\"$*\"\nexec '%s' -test.run='^$'\n", helperEnv, helperArgsEnv, exe)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "memory-gateway"), []byte(standIn), 0o755))
	run, stdout := runDockerExample(t, dir, block)
	key := strings.TrimSpace(stdout)
	require.Regexp(t, `^mgw_\S+$`, key, "the block prints the key, once")

	// The image's user is given the keys file.
	m := regexp.MustCompile(`(?m)^USER (\S+)$`).FindStringSubmatch(readDockerfile(t))
	require.NotNil(t, m, "the Dockerfile names its user")
	rawSudo, err := os.ReadFile(filepath.Join(dir, "sudo-args"))
	require.NoError(t, err, "the block gives the keys file to the image's user")
	sudo := strings.Split(strings.TrimSuffix(string(rawSudo), "\x00"), "\x00")
	require.Len(t, sudo, 3, "%q", sudo)
	require.Equal(t, []string{"chown", m[1]}, sudo[:2], "the keys file (mode 0600) goes to the image's user")
	chowned := map[string]bool{filepath.Join(dir, sudo[2]): true}

	// The same run as the Dockerfile's example, but for the host files.
	dockerfileRun, _ := runDockerExample(t, t.TempDir(), dockerfileExample(t))
	require.Equal(t, dockerfileRun.settings, run.settings, "the README runs the image with the Dockerfile example's settings")
	require.Equal(t, mapKeys(dockerfileRun.mounts), mapKeys(run.mounts), "the README mounts what the Dockerfile's example mounts, where it mounts it")

	requireKeysOn(t, startAsImage(t, dir, run, chowned), key)
}

func mapKeys(m map[string]string) []string { return slices.Sorted(maps.Keys(m)) }
