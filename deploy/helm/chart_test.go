// Package helm_test renders the Helm chart with helm itself and checks every
// manifest it produces.
package helm_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// helmRequiredEnv makes a missing helm a failure instead of a skip (CI sets
// it; .ci/run installs helm).
const helmRequiredEnv = "HELM_REQUIRED"

func helmBinary(t *testing.T) string {
	t.Helper()
	if p, err := exec.LookPath("helm"); err == nil {
		return p
	}
	if gopath, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		p := filepath.Join(strings.TrimSpace(string(gopath)), "bin", "helm")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if os.Getenv(helmRequiredEnv) != "" {
		t.Fatal("helm is required (HELM_REQUIRED) but not installed: go install helm.sh/helm/v3/cmd/helm@v3.22.0")
	}
	t.Skip("helm is not installed: the chart is checked by .ci/run")
	return ""
}

type manifest struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string
	Metadata   struct {
		Name        string
		Annotations map[string]string
	}
	Spec map[string]any
	raw  map[string]any
}

func render(t *testing.T, helm string, args ...string) []manifest {
	t.Helper()
	cmd := exec.Command(helm, append([]string{"template", "mg", "memory-gateway"}, args...)...)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	require.NoError(t, cmd.Run(), stderr.String())
	dec := yaml.NewDecoder(&out)
	var docs []manifest
	for {
		var raw map[string]any
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err, "every rendered document parses")
		if raw == nil {
			continue
		}
		b, err := yaml.Marshal(raw)
		require.NoError(t, err)
		var m manifest
		require.NoError(t, yaml.Unmarshal(b, &m))
		m.raw = raw
		require.NotEmpty(t, m.APIVersion, "apiVersion of %v", raw)
		require.NotEmpty(t, m.Kind)
		require.NotEmpty(t, m.Metadata.Name)
		docs = append(docs, m)
	}
	return docs
}

func byKind(docs []manifest) map[string][]manifest {
	out := map[string][]manifest{}
	for _, d := range docs {
		out[d.Kind] = append(out[d.Kind], d)
	}
	return out
}

// container digs the first container out of a workload's pod template.
func container(t *testing.T, m manifest) map[string]any {
	t.Helper()
	tpl := m.Spec["template"].(map[string]any)["spec"].(map[string]any)
	return tpl["containers"].([]any)[0].(map[string]any)
}

func TestChartRendersEveryPart(t *testing.T) {
	helm := helmBinary(t)
	for _, tc := range []struct {
		name  string
		args  []string
		kinds map[string]int
	}{
		{"defaults with an existing secret", []string{"--set", "secrets.existingSecret=mg"},
			map[string]int{"Deployment": 2, "Job": 1, "Service": 2}},
		{"every optional part", []string{"-f", "ci-values.yaml"},
			map[string]int{"Deployment": 2, "Job": 1, "Service": 2, "Secret": 1, "ConfigMap": 1, "HorizontalPodAutoscaler": 1,
				"PodDisruptionBudget": 1, "ServiceMonitor": 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kinds := byKind(render(t, helm, tc.args...))
			for kind, n := range tc.kinds {
				require.Len(t, kinds[kind], n, kind)
			}
			for _, d := range kinds["Deployment"] {
				c := container(t, d)
				args := c["args"].([]any)
				require.Contains(t, []any{"serve", "worker"}, args[0])
				require.Equal(t, "/readyz", c["readinessProbe"].(map[string]any)["httpGet"].(map[string]any)["path"], d.Metadata.Name)
				require.Equal(t, "/healthz", c["livenessProbe"].(map[string]any)["httpGet"].(map[string]any)["path"], d.Metadata.Name)
				sc := d.Spec["template"].(map[string]any)["spec"].(map[string]any)["securityContext"].(map[string]any)
				require.Equal(t, true, sc["runAsNonRoot"])
				require.Equal(t, true, c["securityContext"].(map[string]any)["readOnlyRootFilesystem"])
			}
			job := kinds["Job"][0]
			require.Equal(t, "pre-install,pre-upgrade", job.Metadata.Annotations["helm.sh/hook"])
			require.Equal(t, []any{"migrate"}, container(t, job)["args"])
			for _, s := range append(kinds["Secret"], kinds["ConfigMap"]...) {
				require.Equal(t, "pre-install,pre-upgrade", s.Metadata.Annotations["helm.sh/hook"], "the migration hook can read %s", s.Metadata.Name)
			}
		})
	}

	// Without any secret the chart refuses to render.
	cmd := exec.Command(helm, "template", "mg", "memory-gateway")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "secrets.existingSecret")
}
