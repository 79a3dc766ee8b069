// Package importrules is the one table of which of the module's packages
// may import which; its test fails when the code imports what the table
// forbids, and when the README's architecture diagram, which is rendered
// from the table, no longer matches it.
package importrules

// Rule is what one package of the module may import.
type Rule struct {
	// Package is the package's directory in the module ("." for the root).
	Package string
	// Imports are the module's packages it may import directly.
	Imports []string
	// StandardOnly: beyond Imports, nothing but the standard library.
	StandardOnly bool
	// Forbidden are module path prefixes outside the module it must not
	// import.
	Forbidden []string
	// Support marks test support, generators and tools: held to their
	// rule, left out of the diagram.
	Support bool
}

// Module is the module's path.
const Module = "github.com/memory-gateway/memory-gateway"

// domainForbidden are what the domain must never depend on: the GraphQL
// server, the database layer and the telemetry libraries.
var domainForbidden = []string{
	"github.com/99designs/gqlgen", "github.com/vektah/gqlparser", "github.com/uptrace/bun",
	"github.com/prometheus", "go.opentelemetry.io",
}

// Rules is the table, from the door inward. Every package of the module has
// a row.
var Rules = []Rule{
	// The door and the composition root.
	{Package: ".", Imports: []string{"app"}},
	{Package: "app", Imports: []string{"httpapi", "resolvers", "mcpserver", "console", "telemetry", "worker",
		"webhook", "maintenance", "jobevents", "persistence", "policy", "backends/local", "backends/openviking",
		"backends/evermemos", "backends/everos", "backends/remote", "gateway", "backendtype", "lifecycle"}},

	// The edges: HTTP, GraphQL (generated and hand-written), MCP, and what
	// they serve or report to.
	{Package: "httpapi", Imports: []string{"policy", "console", "graphiql", "apierror", "requestinfo", "gateway", "lifecycle"}},
	{Package: "resolvers", Imports: []string{"graph", "graph/model", "apierror", "requestinfo", "statements", "gateway", "lifecycle"}},
	{Package: "graph", Imports: []string{"graph/model", "gateway", "backendtype"}},
	{Package: "graph/model", Imports: []string{"gateway", "backendtype"}},
	{Package: "mcpserver", Imports: []string{"apierror", "gateway", "backendtype", "lifecycle"}},
	{Package: "console", StandardOnly: true},
	{Package: "graphiql"},
	{Package: "telemetry", Imports: []string{"worker", "webhook", "maintenance", "requestinfo", "gateway", "backendtype", "lifecycle"}},

	// The machinery: background components, the store, policies, adapters.
	{Package: "worker", Imports: []string{"gateway", "backendtype", "lifecycle"}, StandardOnly: true},
	{Package: "webhook", Imports: []string{"gateway", "lifecycle"}, StandardOnly: true},
	{Package: "maintenance", Imports: []string{"gateway", "lifecycle"}, StandardOnly: true},
	{Package: "jobevents", Imports: []string{"gateway", "lifecycle"}, StandardOnly: true},
	{Package: "persistence", Imports: []string{"gateway", "backendtype", "groupcommit", "namespace", "statements", "lifecycle"},
		Forbidden: []string{"github.com/99designs/gqlgen"}},
	{Package: "policy", Imports: []string{"apierror", "gateway", "backendtype"}},
	{Package: "backends/local", Imports: []string{"backendtype", "groupcommit", "namespace", "lifecycle"}},
	{Package: "backends/openviking", Imports: []string{"backends/remote", "backendtype"}},
	{Package: "backends/evermemos", Imports: []string{"backends/remote", "backendtype"}},
	{Package: "backends/everos", Imports: []string{"backends/remote", "backendtype"}},
	{Package: "backends/remote", Imports: []string{"backendtype"}},

	// The domain, and the leaves everything may use.
	{Package: "apierror", Imports: []string{"gateway"}, StandardOnly: true},
	{Package: "gateway", Imports: []string{"backendtype", "groupcommit", "namespace", "lifecycle"}, Forbidden: domainForbidden},
	// The backend contract: what adapters implement and speak, apart from
	// the domain that calls them.
	{Package: "backendtype", StandardOnly: true},
	{Package: "requestinfo", StandardOnly: true},
	{Package: "lifecycle", StandardOnly: true},
	{Package: "statements", StandardOnly: true},
	{Package: "groupcommit", StandardOnly: true},
	{Package: "namespace", StandardOnly: true},

	// Test support, generators and tools.
	{Package: "backends/backendtest", Imports: []string{"backends/remote", "backendtype"}, Support: true},
	{Package: "backends/openviking/openvikingtest", Imports: []string{"backends/remote/remotetest"}, Support: true},
	{Package: "backends/evermemos/evermemostest", Imports: []string{"backends/remote/remotetest"}, Support: true},
	{Package: "backends/everos/everostest", Imports: []string{"backends/remote/remotetest"}, Support: true},
	{Package: "backends/remote/remotetest", Support: true},
	{Package: "backends/local/localtest", Imports: []string{"backendtype"}, Support: true},
	{Package: "persistence/persistencetest", Imports: []string{"persistence", "gateway", "backendtype"}, Support: true},
	{Package: "lifecycle/lifecycletest", Imports: []string{"lifecycle"}, Support: true},
	{Package: "policy/policytest", Support: true},
	{Package: "policy/internal/rulegen", Support: true},
	{Package: "bench", Imports: []string{"backends/evermemos/evermemostest", "backends/openviking/openvikingtest",
		"backends/local", "backends/local/localtest", "backends/remote", "gateway", "backendtype", "persistence", "persistence/persistencetest", "worker"}, Support: true},
	{Package: "deploy/helm", Support: true},
	{Package: "importrules", StandardOnly: true, Support: true},
	{Package: "schemacompat", Support: true},
}

// Unreachable are packages a package must not depend on even indirectly:
// the GraphQL edge records per-request facts without pulling in what
// reports them, and the domain knows no edge and no machinery.
var Unreachable = map[string][]string{
	"graph":     {"telemetry", "worker", "webhook", "maintenance", "persistence", "httpapi", "app"},
	"resolvers": {"telemetry", "worker", "webhook", "maintenance", "persistence", "httpapi", "app"},
	// Adapters speak to the gateway through backendtype alone.
	"backends/local":       {"gateway"},
	"backends/openviking":  {"gateway"},
	"backends/evermemos":   {"gateway"},
	"backends/everos":      {"gateway"},
	"backends/remote":      {"gateway"},
	"backends/backendtest": {"gateway"},
	"backendtype":          {"gateway"},
	"gateway": {"persistence", "worker", "webhook", "maintenance", "jobevents", "telemetry", "policy", "apierror",
		"resolvers", "graph", "httpapi", "mcpserver", "app"},
}
