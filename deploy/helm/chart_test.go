// Package helm_test renders the Helm chart with helm itself and checks every
// manifest it produces.
package helm_test

import (
	"bytes"
	"errors"
	"fmt"
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
			map[string]int{"Deployment": 2, "Service": 3}},
		{"every optional part", []string{"-f", "ci-values.yaml"},
			map[string]int{"Deployment": 2, "Service": 3, "Secret": 1, "ConfigMap": 1, "HorizontalPodAutoscaler": 1,
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
			require.Empty(t, kinds["Job"], "no migration hook: the pods migrate in their init container")
			for _, d := range kinds["Deployment"] {
				inits := podSpec(d)["initContainers"].([]any)
				require.Len(t, inits, 1, d.Metadata.Name)
				migrate := inits[0].(map[string]any)
				require.Equal(t, []any{"migrate"}, migrate["args"], d.Metadata.Name)
				require.Equal(t, "/etc/memory-gateway/secrets/database-url", env(migrate)["DATABASE_URL_FILE"], d.Metadata.Name)
				require.Equal(t, container(t, d)["volumeMounts"], migrate["volumeMounts"], "%s: the migration reads the same Secret", d.Metadata.Name)
			}
			// Ordinary resources, not hooks: helm uninstall removes them and
			// helm rollback restores them.
			for _, m := range append(kinds["Secret"], kinds["ConfigMap"]...) {
				for name := range m.Metadata.Annotations {
					require.NotContains(t, name, "helm.sh/hook", "%s %s is no hook", m.Kind, m.Metadata.Name)
				}
			}
		})
	}

	// Without any secret the chart refuses to render.
	cmd := exec.Command(helm, "template", "mg", "memory-gateway")
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), "secrets.existingSecret")
}

// podSpec digs the pod spec out of a workload's template.
func podSpec(m manifest) map[string]any {
	return m.Spec["template"].(map[string]any)["spec"].(map[string]any)
}

// env is a container's environment as a map.
func env(c map[string]any) map[string]string {
	out := map[string]string{}
	for _, e := range c["env"].([]any) {
		e := e.(map[string]any)
		v, _ := e["value"].(string)
		out[e["name"].(string)] = v
	}
	return out
}

// labels are a manifest's metadata labels.
func labels(m manifest) map[string]any {
	l, _ := m.raw["metadata"].(map[string]any)["labels"].(map[string]any)
	return l
}

// TestChartKeepsMetricsAndTheTokenOff: by default — and with every optional
// part on — no pod gets a service-account token (the gateway never calls the
// Kubernetes API), the API Service exposes the API port alone, the API port
// does not serve metrics (METRICS=false), and metrics are read from a port
// of their own through headless Services, which alone the ServiceMonitor
// selects: it never scrapes the API Service, and needs no key.
func TestChartKeepsMetricsAndTheTokenOff(t *testing.T) {
	helm := helmBinary(t)
	const metricsLabel = "memory-gateway/metrics"
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"defaults", []string{"--set", "secrets.existingSecret=mg"}},
		{"every optional part", []string{"-f", "ci-values.yaml"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kinds := byKind(render(t, helm, tc.args...))
			for _, w := range append(kinds["Deployment"], kinds["Job"]...) {
				require.Equal(t, false, podSpec(w)["automountServiceAccountToken"], "%s mounts no service-account token", w.Metadata.Name)
			}

			var serve map[string]any
			for _, d := range kinds["Deployment"] {
				if c := container(t, d); c["args"].([]any)[0] == "serve" {
					serve = c
				}
			}
			require.NotNil(t, serve)
			e := env(serve)
			require.Equal(t, "false", e["METRICS"], "the API port serves no metrics")
			require.Equal(t, "0.0.0.0:9090", e["METRICS_ADDR"], "metrics have a port of their own")
			ports := map[string]any{}
			for _, p := range serve["ports"].([]any) {
				p := p.(map[string]any)
				ports[p["name"].(string)] = p["containerPort"]
			}
			require.Equal(t, map[string]any{"http": 8080, "metrics": 9090}, ports)

			var api manifest
			metricsServices := 0
			for _, s := range kinds["Service"] {
				if s.Metadata.Name == "mg-memory-gateway" {
					api = s
					continue
				}
				require.Equal(t, "true", labels(s)[metricsLabel], s.Metadata.Name)
				require.Equal(t, "None", s.Spec["clusterIP"], "%s is headless: nothing to reach through it", s.Metadata.Name)
				require.Equal(t, []any{map[string]any{"name": "metrics", "port": 9090, "targetPort": "metrics"}}, s.Spec["ports"], s.Metadata.Name)
				metricsServices++
			}
			require.Equal(t, 2, metricsServices, "the API pods' and the workers'")
			require.NotEmpty(t, api.Metadata.Name, "the API Service")
			require.Equal(t, []any{map[string]any{"name": "http", "port": 80, "targetPort": "http"}}, api.Spec["ports"], "the API port alone")
			require.NotContains(t, labels(api), metricsLabel, "no ServiceMonitor selects the API Service")

			for _, sm := range kinds["ServiceMonitor"] {
				selector := sm.Spec["selector"].(map[string]any)["matchLabels"].(map[string]any)
				require.Equal(t, "true", selector[metricsLabel], "only the metrics Services")
				endpoints := sm.Spec["endpoints"].([]any)
				require.Len(t, endpoints, 1)
				require.Equal(t, "metrics", endpoints[0].(map[string]any)["port"])
				require.NotContains(t, endpoints[0], "bearerTokenSecret", "the scraper holds no key")
			}
		})
	}
}

// preStopSleep is a container's preStop sleep in seconds, or 0 without one.
func preStopSleep(c map[string]any) int {
	lc, ok := c["lifecycle"].(map[string]any)
	if !ok {
		return 0
	}
	return lc["preStop"].(map[string]any)["sleep"].(map[string]any)["seconds"].(int)
}

// TestChartShutsDownGracefully: a terminating API pod keeps serving through
// a preStop sleep while the endpoints drop it, then gets SHUTDOWN_TIMEOUT for
// in-flight requests; Kubernetes kills neither pod before its own shutdown
// timeout (and the sleep) have passed. The worker takes no requests: no
// preStop, but the same timeout for its in-flight events.
func TestChartShutsDownGracefully(t *testing.T) {
	t.Parallel()
	helm := helmBinary(t)
	for _, tc := range []struct {
		name             string
		args             []string
		timeout, preStop int
	}{
		{"defaults", nil, 20, 5},
		{"a longer timeout", []string{"--set", "shutdown.timeoutSeconds=90", "--set", "shutdown.preStopSleepSeconds=15"}, 90, 15},
		{"no preStop", []string{"--set", "shutdown.preStopSleepSeconds=0"}, 20, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			kinds := byKind(render(t, helm, append([]string{"--set", "secrets.existingSecret=mg"}, tc.args...)...))
			require.Len(t, kinds["Deployment"], 2)
			for _, d := range kinds["Deployment"] {
				c := container(t, d)
				role := c["args"].([]any)[0]
				require.Equal(t, fmt.Sprintf("%ds", tc.timeout), env(c)["SHUTDOWN_TIMEOUT"], d.Metadata.Name)
				grace := podSpec(d)["terminationGracePeriodSeconds"].(int)
				sleep := preStopSleep(c)
				if role == "serve" {
					require.Equal(t, tc.preStop, sleep, "the API pod's preStop sleep")
				} else {
					require.Zero(t, sleep, "the worker takes no requests")
				}
				require.Greater(t, grace, sleep+tc.timeout, "%s: killed only after its preStop sleep and SHUTDOWN_TIMEOUT", d.Metadata.Name)
			}
		})
	}

}

// TestChartRefusesWhatCannotWork: values that would install a release that
// cannot work do not render, and the error says what to set.
func TestChartRefusesWhatCannotWork(t *testing.T) {
	t.Parallel()
	helm := helmBinary(t)
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"nothing runs the worker", []string{"--set", "worker.enabled=false", "--set", "serve.runWorker=false"},
			"nothing would run the worker, so the outbox would never drain"},
		{"a second source of the shutdown timeout", []string{"--set", "env.SHUTDOWN_TIMEOUT=1m"},
			"set shutdown.timeoutSeconds, not env.SHUTDOWN_TIMEOUT"},
		{"a second source of the limits' scope", []string{"--set", "env.LIMITS_SCOPE=process"},
			"set limits.scope, not env.LIMITS_SCOPE"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(helm, append([]string{"template", "mg", "memory-gateway", "--set", "secrets.existingSecret=mg"}, tc.args...)...).CombinedOutput()
			require.Error(t, err, string(out))
			require.Contains(t, string(out), tc.want)
		})
	}

	// A key's limits hold for the release, however many API pods run.
	for _, d := range byKind(render(t, helm, "--set", "secrets.existingSecret=mg"))["Deployment"] {
		require.Equal(t, "deployment", env(container(t, d))["LIMITS_SCOPE"], d.Metadata.Name)
	}

	// Either switch alone is enough: the worker Deployment, or the API pods.
	kinds := byKind(render(t, helm, "--set", "secrets.existingSecret=mg", "--set", "worker.enabled=false", "--set", "serve.runWorker=true"))
	require.Len(t, kinds["Deployment"], 1)
	require.Equal(t, "true", env(container(t, kinds["Deployment"][0]))["WORKER"], "the API pods run the worker")
}

// TestChartSchemaRejectsWrongValues: values.schema.json catches a wrong type,
// a value outside its enum and a misspelt key before anything renders.
func TestChartSchemaRejectsWrongValues(t *testing.T) {
	t.Parallel()
	helm := helmBinary(t)
	for _, tc := range []struct {
		name string
		set  string
		want string
	}{
		{"a string for a count", "serve.replicas=two", "at '/serve/replicas': got string, want integer"},
		{"a string for a switch", "worker.enabled=yes", "at '/worker/enabled': got string, want boolean"},
		{"a pull policy that does not exist", "image.pullPolicy=Sometimes", "at '/image/pullPolicy'"},
		{"a Service type that does not exist", "service.type=Ingress", "at '/service/type'"},
		{"a misspelt key", "serve.replica=3", "additional properties 'replica' not allowed"},
		{"a port out of range", "serve.port=70000", "at '/serve/port'"},
		{"a digest that is not one", "image.digest=latest", "at '/image/digest'"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			out, err := exec.Command(helm, "template", "mg", "memory-gateway", "--set", "secrets.existingSecret=mg", "--set", tc.set).CombinedOutput()
			require.Error(t, err, string(out))
			require.Contains(t, string(out), "values don't meet the specifications of the schema")
			require.Contains(t, string(out), tc.want)
		})
	}
}
