package app

import (
	"os"
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
