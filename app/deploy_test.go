package app

import (
	"bytes"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// TestDeploymentFiles checks what can be checked of the image and the
// compose stack without pulling images: base images pinned by digest, a
// static non-root runtime stage, the compose order PostgreSQL (healthy)
// → migrate (completed) → gateway and worker, each with a health probe, and
// metrics off the published API port, on unpublished ports of their own.
func TestDeploymentFiles(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../Dockerfile")
	require.NoError(t, err)
	dockerfile := string(raw)
	froms := regexp.MustCompile(`(?m)^FROM (\S+)`).FindAllStringSubmatch(dockerfile, -1)
	require.Len(t, froms, 2, "a build stage and a runtime stage")
	for _, f := range froms {
		require.Regexp(t, `@sha256:[0-9a-f]{64}$`, f[1], "pinned by digest")
	}
	require.Contains(t, froms[1][1], "distroless/static", "a static runtime image")
	require.Contains(t, dockerfile, "CGO_ENABLED=0")
	require.Regexp(t, `(?m)^USER 65532:65532$`, dockerfile)
	require.Contains(t, dockerfile, `"healthcheck"`)

	raw, err = os.ReadFile("../compose.yaml")
	require.NoError(t, err)
	var compose struct {
		Services map[string]struct {
			Image       string
			Build       any
			Command     []string
			Environment map[string]string
			DependsOn   map[string]struct{ Condition string } `yaml:"depends_on"`
			Healthcheck *struct{ Test []string }
			Secrets     []string
			Ports       []string
		}
		Secrets map[string]struct{ File string }
	}
	require.NoError(t, yaml.Unmarshal(raw, &compose))
	svc := compose.Services
	require.Regexp(t, `@sha256:[0-9a-f]{64}$`, svc["postgres"].Image)
	require.NotNil(t, svc["postgres"].Healthcheck)
	require.Equal(t, []string{"migrate"}, svc["migrate"].Command)
	require.Equal(t, "service_healthy", svc["migrate"].DependsOn["postgres"].Condition)
	for _, name := range []string{"gateway", "worker"} {
		require.Equal(t, "service_completed_successfully", svc[name].DependsOn["migrate"].Condition, name)
		require.NotNil(t, svc[name].Healthcheck, name)
		require.Equal(t, "/usr/local/bin/memory-gateway", svc[name].Healthcheck.Test[1], name)
		require.Equal(t, "/run/secrets/database-url", svc[name].Environment["DATABASE_URL_FILE"], name)
	}
	require.Equal(t, []string{"serve"}, svc["gateway"].Command)
	require.Equal(t, "false", svc["gateway"].Environment["WORKER"], "the worker service drains the outbox")
	require.Equal(t, "/run/secrets/api-keys.json", svc["gateway"].Environment["API_KEYS_FILE"])
	require.Equal(t, "false", svc["gateway"].Environment["METRICS"], "the API port serves no metrics")
	require.Equal(t, "0.0.0.0:9090", svc["gateway"].Environment["METRICS_ADDR"], "metrics have a port of their own")
	require.Equal(t, []string{"127.0.0.1:8080:8080"}, svc["gateway"].Ports, "the API port alone is published, on loopback")
	require.Empty(t, svc["worker"].Ports, "the worker's metrics port is not published")
	require.Equal(t, []string{"worker"}, svc["worker"].Command)
	require.True(t, strings.HasSuffix(svc["worker"].Environment["METRICS_ADDR"], ":9090"))
	require.Contains(t, svc["worker"].Healthcheck.Test, "127.0.0.1:9090", "the worker's probe is on its metrics address")
	for name, s := range compose.Secrets {
		require.True(t, strings.HasPrefix(s.File, "./deploy/compose/"), name)
	}
	ignored, err := os.ReadFile("../.gitignore")
	require.NoError(t, err)
	for _, s := range compose.Secrets {
		require.Contains(t, string(ignored), strings.TrimPrefix(s.File, "."), "secret files are not committed")
	}
}

// TestDockerfileExampleStartsTheImage runs the Dockerfile's own example as
// far as it goes without a container runtime: its shell lines make the key
// and the keys file, with docker standing in to record the run line; the
// command then runs with the image's ENV and the run line's -e flags, the
// -v mounts mapped back to the host files. The image listens on 0.0.0.0,
// which dev mode refuses, so what makes the example runnable is that keys
// are on: the example's key is accepted and a request without one refused.
// (The process itself listens on loopback: tests send traffic nowhere else.)
func TestDockerfileExampleStartsTheImage(t *testing.T) {
	for _, tool := range []string{"bash", "openssl", "sha256sum", "cut"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the example needs %s: %v", tool, err)
		}
	}
	dir := t.TempDir()
	run, _ := runDockerExample(t, dir, dockerfileExample(t)+"\n"+`printf %s "$KEY" > key`)
	key, err := os.ReadFile(filepath.Join(dir, "key"))
	require.NoError(t, err)
	base := startAsImage(t, dir, run, nil)
	requireKeysOn(t, base, string(key))
}

// dockerfileExample is the Dockerfile's example: the shell lines of its
// header comment, without the build and the curl that follows the run.
func dockerfileExample(t *testing.T) string {
	t.Helper()
	var script []string
	for _, m := range regexp.MustCompile(`(?m)^#   (.+)$`).FindAllStringSubmatch(readDockerfile(t), -1) {
		if !strings.HasPrefix(m[1], "curl ") && !strings.HasPrefix(m[1], "docker build ") {
			script = append(script, m[1])
		}
	}
	require.Contains(t, strings.Join(script, "\n"), "docker run ", "the example runs the image")
	return strings.Join(script, "\n")
}

func readDockerfile(t *testing.T) string {
	t.Helper()
	raw, err := os.ReadFile("../Dockerfile")
	require.NoError(t, err)
	return string(raw)
}

// dockerRun is what an example's docker run line asks for.
type dockerRun struct {
	mounts   map[string]string // container path → host path
	settings []string          // the -e flags, NAME=value
	image    string
}

// runDockerExample runs script with bash in dir, docker and sudo standing in
// to record their arguments (sudo's in dir/sudo-args), and returns the docker
// run line it asked for and what the script printed on stdout.
func runDockerExample(t *testing.T, dir, script string) (dockerRun, string) {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c",
		`docker() { if [ "$1" = run ]; then printf '%s\0' "$@" > docker-args; fi; }`+"\n"+
			`sudo() { printf '%s\0' "$@" >> sudo-args; }`+"\n"+script)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PWD="+dir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "the example's shell lines run: %s%s", stdout.String(), stderr.String())
	rawArgs, err := os.ReadFile(filepath.Join(dir, "docker-args"))
	require.NoError(t, err, "the example runs the image")
	args := strings.Split(strings.TrimSuffix(string(rawArgs), "\x00"), "\x00")
	require.Equal(t, "run", args[0])

	run := dockerRun{mounts: map[string]string{}}
	for i := 1; i < len(args) && run.image == ""; i++ {
		switch a := args[i]; a {
		case "--rm":
		case "-p":
			i++
			host, _, err := net.SplitHostPort(strings.TrimSuffix(args[i], ":8080"))
			require.NoError(t, err, args[i])
			require.Equal(t, "127.0.0.1", host, "the example publishes on the host's loopback")
		case "-v":
			i++
			parts := strings.Split(args[i], ":")
			require.GreaterOrEqual(t, len(parts), 2, args[i])
			run.mounts[parts[1]] = parts[0]
		case "-e":
			i++
			run.settings = append(run.settings, args[i])
		default:
			require.False(t, strings.HasPrefix(a, "-"), "a flag the test does not know: %s", a)
			run.image = a
		}
	}
	require.Equal(t, "memory-gateway", run.image)
	return run, stdout.String()
}

// startAsImage runs serve as the image would run it for run: the image's
// ENV, then the run line's settings, a setting naming a mounted file pointed
// at the host file, which the image's user must be able to read: readable by
// all, or in chowned (the host files the example gives to that user).
func startAsImage(t *testing.T, dir string, run dockerRun, chowned map[string]bool) string {
	t.Helper()
	dockerfile := readDockerfile(t)
	env := map[string]string{}
	for _, m := range regexp.MustCompile(`(?m)^ENV (\w+)=(\S+)$`).FindAllStringSubmatch(dockerfile, -1) {
		env[m[1]] = m[2]
	}
	require.Equal(t, "0.0.0.0:8080", env["LISTEN_ADDR"], "the image listens beyond loopback, which dev mode refuses")
	for _, kv := range run.settings {
		name, value, ok := strings.Cut(kv, "=")
		require.True(t, ok, kv)
		if host, mounted := run.mounts[value]; mounted {
			info, err := os.Stat(host)
			require.NoError(t, err, "%s names a mounted file", name)
			require.True(t, info.Mode().Perm()&0o004 != 0 || chowned[host],
				"%s is readable by the image's user (65532), not only by the file's owner", host)
			value = host
		}
		env[name] = value
	}
	require.NotEmpty(t, env["API_KEYS_FILE"], "without keys the gateway is in dev mode, which refuses 0.0.0.0")

	addr := freeAddr(t)
	env["LISTEN_ADDR"] = addr
	env["DATABASE_URL"] = "file:" + filepath.Join(dir, "data", "memory-gateway.db")
	list := []string{}
	for k, v := range env {
		list = append(list, k+"="+v)
	}
	startHelper(t, "serve", list...)
	base := "http://" + addr
	waitReady(t, base)
	return base
}

// requireKeysOn checks that the gateway at base accepts key and refuses a
// request without one.
func requireKeysOn(t *testing.T, base, key string) {
	t.Helper()
	ask := func(key string) (int, string) {
		req, err := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewBufferString(`{"query": "{ __typename }"}`))
		require.NoError(t, err)
		req.Header.Set("content-type", "application/json")
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(body)
	}
	status, body := ask(key)
	require.Equal(t, http.StatusOK, status, body)
	require.Contains(t, body, `"__typename":"Query"`)
	status, body = ask("")
	require.Equal(t, http.StatusUnauthorized, status, "keys are on: no dev mode, so the image's 0.0.0.0 is allowed; %s", body)
}
