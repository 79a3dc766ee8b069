package app

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
	"github.com/uptrace/bun"

	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	"github.com/memory-gateway/memory-gateway/gateway"
	"github.com/memory-gateway/memory-gateway/persistence"
	pt "github.com/memory-gateway/memory-gateway/persistence/persistencetest"
)

// Browser tests run Debian's chromium. Without it they are skipped, unless
// CONSOLE_BROWSER_REQUIRED is set (as .ci/run does), when they fail.
const (
	chromiumEnv         = "CHROMIUM"
	browserRequiredEnv  = "CONSOLE_BROWSER_REQUIRED"
	screenshotsEnv      = "CONSOLE_SCREENSHOTS"
	browserStepTimeout  = 60 * time.Second
	consoleWidth        = 1280
	consoleHeight       = 900
	consolePhoneWidth   = 390
	consolePhoneHeight  = 844
	closedProxy         = "http://127.0.0.1:9"
	loopbackOnlyResolve = "MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1"
)

func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv(chromiumEnv), "/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if p == "" {
			continue
		}
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	if os.Getenv(browserRequiredEnv) != "" {
		t.Fatalf("chromium is not installed (apt-get install chromium), and %s is set", browserRequiredEnv)
	}
	t.Skip("chromium is not installed: the console's browser tests are skipped (apt-get install chromium)")
	return ""
}

// requestLog records every URL the page asked for.
type requestLog struct {
	mu   sync.Mutex
	urls []string
}

func (l *requestLog) add(u string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.urls = append(l.urls, u)
}

func (l *requestLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.urls...)
}

// newBrowser starts a headless chromium that can reach nothing past
// loopback: every name but localhost resolves to nothing, and anything that
// is not loopback goes to a closed proxy port.
func newBrowser(t *testing.T) (context.Context, *requestLog) {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.ProxyServer(closedProxy),
		chromedp.Flag("host-resolver-rules", loopbackOnlyResolve),
		chromedp.WindowSize(consoleWidth, consoleHeight),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx)
	t.Cleanup(func() { cancel(); cancelAlloc() })
	log := &requestLog{}
	require.NoError(t, chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			log.add(e.Request.URL)
		case *network.EventWebSocketCreated:
			log.add(e.URL)
		}
	}))
	_, err := chromedp.Call(ctx, network.Enable, network.EnableParams{})
	require.NoError(t, err)
	return ctx, log
}

// browse runs browser actions under a step timeout.
func browse(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	stepCtx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	if err := chromedp.Do(stepCtx, actions...); err != nil {
		body, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
		t.Fatalf("%s: %v\npage:\n%s", what, err, body)
	}
}

// evaluate runs JavaScript in the page and returns its value.
func evaluate[T any](t *testing.T, ctx context.Context, expression string) T {
	t.Helper()
	stepCtx, cancel := context.WithTimeout(ctx, browserStepTimeout)
	defer cancel()
	v, err := chromedp.Run(stepCtx, chromedp.Evaluate[T](expression))
	require.NoError(t, err, expression)
	return v
}

// openPage goes to a console route and waits until its page has drawn.
func openPage(t *testing.T, ctx context.Context, base, route, page string) {
	t.Helper()
	// From a blank page, so that the same route loads afresh.
	browse(t, ctx, "open "+route,
		chromedp.Navigate("about:blank"),
		chromedp.Navigate(base+"/console/#"+route),
		chromedp.WaitVisible(chromedp.CSS(`main[data-page="`+page+`"][data-ready="true"]`)),
	)
	errors := evaluate[[]string](t, ctx, `[...document.querySelectorAll("main .error")].map(e => e.textContent)`)
	require.Empty(t, errors, "%s shows an error", route)
}

// useKey pastes a key into the console's key form.
func useKey(t *testing.T, ctx context.Context, key string) {
	t.Helper()
	browse(t, ctx, "use a key",
		chromedp.SetValue(chromedp.ID("api-key"), key),
		chromedp.Click(chromedp.CSS(`form.key button[type="submit"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"]`)),
	)
	require.Equal(t, key, evaluate[string](t, ctx, `sessionStorage.getItem("memory-gateway.console.key")`))
}

// screenshot writes the page to CONSOLE_SCREENSHOTS/<name>.png when set.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	dir := os.Getenv(screenshotsEnv)
	if dir == "" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644))
}

// gqlData posts an operation with a key and returns its data, failing on
// errors.
func gqlData(t *testing.T, base, key, query string, vars map[string]any) map[string]any {
	t.Helper()
	status, out := call(t, base, key, query, vars)
	require.Equal(t, http.StatusOK, status, out)
	require.Nil(t, out["errors"], "%v", out["errors"])
	return out["data"].(map[string]any)
}

func ingestAs(t *testing.T, base, key, session, turn, content string) {
	t.Helper()
	gqlData(t, base, key, `mutation($in: IngestConversationTurnInput!) { ingestConversationTurn(input: $in) { status } }`, map[string]any{"in": map[string]any{
		"workspaceId": "acme", "userId": "alice", "agentId": "helper", "sessionId": session, "turnId": turn,
		"namespace": "support", "role": "USER", "content": content,
	}})
}

func commitAs(t *testing.T, base, key, session string) string {
	t.Helper()
	data := gqlData(t, base, key, `mutation($in: CommitSessionInput!) { commitSession(input: $in) { job { id } } }`, map[string]any{"in": map[string]any{
		"workspaceId": "acme", "userId": "alice", "agentId": "helper", "sessionId": session, "namespace": "support",
	}})
	return data["commitSession"].(map[string]any)["job"].(map[string]any)["id"].(string)
}

func drain(t *testing.T, base string) {
	t.Helper()
	gqlData(t, base, operatorKey, `mutation { processOutbox(limit: 100) { processedCount } }`, nil)
}

// TestConsoleInBrowser drives the console in chromium against a whole
// gateway on each store: every page loads; a committed job's row goes
// ACCEPTED → SUCCESS without a reload; a dead letter is re-driven; a
// correction is accepted; the key's grants decide what is shown; and the page
// asks nothing of any origin but its own.
func TestConsoleInBrowser(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			consoleInBrowser(t, pt.URL(t, d), d == pt.SQLite)
		})
	}
}

func consoleInBrowser(t *testing.T, dbURL string, screenshots bool) {
	em := evermemostest.New()
	t.Cleanup(em.Close)
	base := startServerWith(t, map[string]string{
		"DATABASE_URL": dbURL, "API_KEYS_FILE": keysFile(t), "EVERMEMOS_URL": em.URL,
		"WORKER": "false", "OUTBOX_MAX_ATTEMPTS": "1",
		// The backends page's sparklines get a point every 250 ms.
		"METRICS_TREND_INTERVAL": "250ms",
		// DASHBOARD keys run only the console's documents.
		"TRUSTED_DOCUMENTS_FILE": trustedDocsFile(t),
	})
	ctx, requests := newBrowser(t)

	ingestAs(t, base, agentKeyA, "s1", "t1", "my favourite tea is jasmine")
	browse(t, ctx, "open without a key",
		chromedp.Navigate(base+"/console/#/jobs?workspace=acme"),
		chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"] .error`)),
	)
	require.Contains(t, evaluate[string](t, ctx, `document.querySelector("main .error").textContent`), "UNAUTHENTICATED", "without a key the console asks for one")
	useKey(t, ctx, operatorKey)
	openPage(t, ctx, base, "/jobs?workspace=acme", "jobs")

	// A commit appears ACCEPTED, then turns SUCCESS, without a reload.
	browse(t, ctx, "mark the document", chromedp.Evaluate[chromedp.Void](`window.notReloaded = true`))
	job := commitAs(t, base, agentKeyA, "s1")
	row := `tr[data-job="` + job + `"] td.status [data-status="%s"]`
	browse(t, ctx, "the new job appears ACCEPTED", chromedp.WaitVisible(chromedp.CSS(strings.Replace(row, "%s", "ACCEPTED", 1))))
	drain(t, base)
	browse(t, ctx, "the job turns SUCCESS live", chromedp.WaitVisible(chromedp.CSS(strings.Replace(row, "%s", "SUCCESS", 1))))
	require.True(t, evaluate[bool](t, ctx, `window.notReloaded === true`), "the row changed without a reload")

	// Totals per status link to the list of that status; the pager tells
	// the honest total; a time range outside the jobs' finds none.
	openPage(t, ctx, base, "/jobs?workspace=acme", "jobs")
	require.Equal(t, "1", evaluate[string](t, ctx, `document.querySelector('nav.totals a[data-total="SUCCESS"] .n').textContent`))
	require.Equal(t, "0", evaluate[string](t, ctx, `document.querySelector('nav.totals a[data-total="FAILED"] .n').textContent`))
	require.Equal(t, "1", evaluate[string](t, ctx, `document.querySelector("p.pager").dataset.total`))
	require.NotEqual(t, "—", evaluate[string](t, ctx, `document.querySelector("tr[data-job] td.duration").textContent`), "a finished job shows its duration")
	browse(t, ctx, "the SUCCESS total links to its list", chromedp.Click(chromedp.CSS(`nav.totals a[data-total="SUCCESS"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"] #f-status`)))
	require.Equal(t, "SUCCESS", evaluate[string](t, ctx, `document.getElementById("f-status").value`))
	openPage(t, ctx, base, "/jobs?workspace=acme&from=2001-01-01T00:00&to=2001-02-01T00:00", "jobs")
	require.Zero(t, evaluate[int](t, ctx, `document.querySelectorAll("tr[data-job]").length`), "no job in January 2001")
	require.Equal(t, "0", evaluate[string](t, ctx, `document.querySelector("p.pager").dataset.total`))

	// Search by any id: a job's, a session's own id.
	for _, tc := range []struct{ id, page, wait string }{
		{job, "job", `table[aria-label="Outbox events"] tr[data-event]`},
		{"s1", "session", `svg.graph a.node`},
	} {
		openPage(t, ctx, base, "/jobs", "jobs")
		browse(t, ctx, "find "+tc.id, chromedp.SetValue(chromedp.ID("find-id"), tc.id), chromedp.Click(chromedp.CSS(`form.find button`)),
			chromedp.WaitVisible(chromedp.CSS(`main[data-page="`+tc.page+`"][data-ready="true"] `+tc.wait)))
	}

	// The job's page: its events, refs and timeline.
	openPage(t, ctx, base, "/job/"+url.PathEscape(job), "job")
	browse(t, ctx, "the job's events", chromedp.WaitVisible(chromedp.CSS(`table[aria-label="Outbox events"] tr[data-event]`)),
		chromedp.WaitVisible(chromedp.CSS(`table[aria-label="Refs"] tr[data-ref]`)), chromedp.WaitVisible(chromedp.CSS(`ol.timeline li`)))
	screenshot(t, ctx, "job")

	// A commit EverMemOS refuses becomes a dead letter; re-driven from the
	// console, it succeeds.
	ingestAs(t, base, agentKeyA, "s2", "t1", "I live in Lisbon")
	em.Faults.FailNextOn(http.MethodPost, "/api/v1/memories/flush", 1, http.StatusBadRequest, `{"code":"INVALID","message":"refused"}`)
	failed := commitAs(t, base, agentKeyA, "s2")
	drain(t, base)
	// The failed job's page: every run of its dead event with a duration,
	// its error once, and a re-drive button there.
	openPage(t, ctx, base, "/job/"+url.PathEscape(failed), "job")
	browse(t, ctx, "the attempts", chromedp.WaitVisible(chromedp.CSS(`section.attempts tr[data-run="1"] td.duration`)))
	pageText := evaluate[string](t, ctx, `document.querySelector("main").innerText`)
	require.NotContains(t, strings.ToLower(pageText), "evermemos: evermemos:", "no doubled prefix")
	require.Contains(t, pageText, "refused")
	require.Equal(t, 1, evaluate[int](t, ctx, `document.querySelectorAll("p.redrive-job .confirm").length`), "a re-drive button on the job page")
	screenshot(t, ctx, "job-failed")

	// Bulk select on the dead letters: one checked, re-driven.
	ingestAs(t, base, agentKeyA, "s3", "t1", "I work from home")
	em.Faults.FailNextOn(http.MethodPost, "/api/v1/memories/flush", 1, http.StatusBadRequest, `{"code":"INVALID","message":"refused"}`)
	failed3 := commitAs(t, base, agentKeyA, "s3")
	drain(t, base)
	openPage(t, ctx, base, "/job/"+url.PathEscape(failed3), "job")
	browse(t, ctx, "re-drive from the job page",
		chromedp.Click(chromedp.CSS(`p.redrive-job .confirm button`)),
		chromedp.Click(chromedp.CSS(`p.redrive-job button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`tr[data-event] [data-wait="QUEUED"]`)),
	)
	openPage(t, ctx, base, "/dead-letters", "dead-letters")
	deadRow := `section.group tr[data-event]`
	require.Equal(t, 1, evaluate[int](t, ctx, `document.querySelectorAll("section.group tr[data-event]").length`), "the job page's re-drive took its dead letter")
	browse(t, ctx, "select it for a bulk re-drive", chromedp.Click(chromedp.CSS(deadRow+` input.pick`)), chromedp.WaitVisible(chromedp.CSS(`p.bulk .confirm button`)))
	require.Contains(t, evaluate[string](t, ctx, `document.querySelector("p.bulk").textContent`), "1 selected")
	browse(t, ctx, "cancel the bulk", chromedp.Click(chromedp.CSS(deadRow+` input.pick`)), chromedp.WaitNotVisible(chromedp.CSS(`p.bulk`)))
	browse(t, ctx, "a dead letter is listed", chromedp.WaitVisible(chromedp.CSS(deadRow)))
	screenshot(t, ctx, "dead-letters")
	browse(t, ctx, "re-drive it, with confirmation",
		chromedp.Click(chromedp.CSS(deadRow+` .confirm button`)),
		chromedp.WaitVisible(chromedp.CSS(deadRow+` button.danger`)),
		chromedp.Click(chromedp.CSS(deadRow+` button.danger`)),
		chromedp.WaitVisible(chromedp.CSS(`.groups p.empty`)),
	)
	drain(t, base)
	status := gqlData(t, base, operatorKey, `query($id: ID!) { commitJob(id: $id) { status } }`, map[string]any{"id": failed})
	require.Equal(t, "SUCCESS", status["commitJob"].(map[string]any)["status"], "the re-driven event ran")

	// A correction waits for review and is accepted from the console.
	refs := gqlData(t, base, operatorKey, `{ memoryRefs(filter: {workspaceId: "acme", sessionId: "s1", backend: LOCAL, refType: LONG_TERM_MEMORY}) { edges { node { id } } } }`, nil)
	refID := refs["memoryRefs"].(map[string]any)["edges"].([]any)[0].(map[string]any)["node"].(map[string]any)["id"].(string)
	fb := gqlData(t, base, agentKeyA, `mutation($in: RecordMemoryFeedbackInput!) { recordMemoryFeedback(input: $in) { feedback { id status } } }`, map[string]any{"in": map[string]any{
		"workspaceId": "acme", "userId": "alice", "agentId": "helper", "namespace": "support", "memoryRefId": refID,
		"feedbackType": "CORRECTION", "correction": "my favourite tea is oolong", "sourceEventId": "fix-1",
	}})
	fbID := fb["recordMemoryFeedback"].(map[string]any)["feedback"].(map[string]any)["id"].(string)
	openPage(t, ctx, base, "/reviews", "reviews")
	review := `tr[data-feedback="` + fbID + `"]`
	browse(t, ctx, "the correction waits", chromedp.WaitVisible(chromedp.CSS(review)))
	require.Equal(t, "my favourite tea is oolong", evaluate[string](t, ctx, `document.querySelector('`+review+` [data-text="correction"]').textContent`), "the reviewer reads the correction")
	require.Contains(t, evaluate[string](t, ctx, `document.querySelector('`+review+` [data-text="memory"]').textContent`), "jasmine", "and the memory it replaces")
	screenshot(t, ctx, "reviews")
	openPage(t, ctx, base, "/reviews?type=DELETE_REQUEST", "reviews")
	require.Zero(t, evaluate[int](t, ctx, `document.querySelectorAll("tr[data-feedback]").length`), "filtered by type")
	openPage(t, ctx, base, "/reviews?user=bob", "reviews")
	require.Zero(t, evaluate[int](t, ctx, `document.querySelectorAll("tr[data-feedback]").length`), "filtered by user")
	openPage(t, ctx, base, "/reviews?user=alice&type=CORRECTION", "reviews")
	browse(t, ctx, "filters that match", chromedp.WaitVisible(chromedp.CSS(review)))
	browse(t, ctx, "accept it", chromedp.Click(chromedp.CSS(review+` button.accept`)), chromedp.WaitNotPresent(chromedp.CSS(review)))
	decided := gqlData(t, base, operatorKey, `query($id: ID!) { node(id: $id) { ... on MemoryFeedback { status } } }`, map[string]any{"id": fbID})
	require.Equal(t, "ACCEPTED", decided["node"].(map[string]any)["status"])

	// Two more, rejected together with a reason; the decided tab lists them.
	var bulk []string
	for i, text := range []string{"my favourite tea is green", "my favourite tea is black"} {
		fb := gqlData(t, base, agentKeyA, `mutation($in: RecordMemoryFeedbackInput!) { recordMemoryFeedback(input: $in) { feedback { id } } }`, map[string]any{"in": map[string]any{
			"workspaceId": "acme", "userId": "alice", "agentId": "helper", "namespace": "support", "memoryRefId": refID,
			"feedbackType": "CORRECTION", "correction": text, "sourceEventId": "bulk-" + string(rune('a'+i)),
		}})
		bulk = append(bulk, fb["recordMemoryFeedback"].(map[string]any)["feedback"].(map[string]any)["id"].(string))
	}
	openPage(t, ctx, base, "/reviews", "reviews")
	browse(t, ctx, "select both and reject them with a reason",
		chromedp.WaitVisible(chromedp.CSS(`tr[data-feedback="`+bulk[1]+`"]`)),
		chromedp.Click(chromedp.CSS(`input.pick-all`)),
		chromedp.SetValue(chromedp.ID("review-reason"), "tea is personal"),
		chromedp.Click(chromedp.CSS(`button.bulk-reject`)),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-feedback="`+bulk[0]+`"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`tr[data-feedback="`+bulk[1]+`"]`)),
	)
	openPage(t, ctx, base, "/reviews?tab=decided", "reviews")
	for _, id := range bulk {
		row := `tr[data-feedback="` + id + `"]`
		browse(t, ctx, "decided "+id, chromedp.WaitVisible(chromedp.CSS(row)))
		require.Contains(t, evaluate[string](t, ctx, `document.querySelector('`+row+`').textContent`), "tea is personal")
		require.Contains(t, evaluate[string](t, ctx, `document.querySelector('`+row+`').textContent`), "REJECTED")
	}
	require.Equal(t, 3, evaluate[int](t, ctx, `document.querySelectorAll("tr[data-feedback]").length`), "the accepted one is history too")
	screenshot(t, ctx, "reviews-decided")

	// The session graph, a node, the backends and an erasure.
	openPage(t, ctx, base, "/sessions?workspace=acme", "sessions")
	browse(t, ctx, "the sessions", chromedp.WaitVisible(chromedp.CSS(`tr[data-session="s1"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-session="s3"]`)))
	require.Equal(t, "3", evaluate[string](t, ctx, `document.querySelector("p.pager").dataset.total`))
	screenshot(t, ctx, "sessions")
	browse(t, ctx, "a session links to its graph", chromedp.Click(chromedp.CSS(`tr[data-session="s1"] a.id`)),
		chromedp.WaitVisible(chromedp.CSS(`main[data-page="session"][data-ready="true"] svg.graph a.node`)))
	require.Equal(t, "false", evaluate[string](t, ctx, `document.querySelector("p.refs-shown").dataset.capped`))
	openPage(t, ctx, base, "/session?workspace=acme&session=s1", "session")
	browse(t, ctx, "the graph is drawn", chromedp.WaitVisible(chromedp.CSS(`svg.graph a.node`)),
		chromedp.WaitVisible(chromedp.CSS(`svg.graph a[data-node="`+refID+`"]`)), chromedp.WaitVisible(chromedp.CSS(`table[aria-label="Session nodes"] tr`)))
	screenshot(t, ctx, "session")
	browse(t, ctx, "a node links to its page", chromedp.Click(chromedp.CSS(`table[aria-label="Session nodes"] a[href="#/node/`+url.PathEscape(refID)+`"]`)),
		chromedp.WaitVisible(chromedp.CSS(`main[data-page="node"][data-ready="true"] dl.facts`)))
	screenshot(t, ctx, "node")
	// Ids without a page of their own are text to copy, not links.
	require.Zero(t, evaluate[int](t, ctx, `[...document.querySelectorAll("main a")].filter(a => /gw_|prov_/.test(a.getAttribute("href"))).length`), "no link to a gateway or provenance id")
	require.Positive(t, evaluate[int](t, ctx, `document.querySelectorAll("main .copyable").length`))
	broken := evaluate[[]string](t, ctx, `[...document.querySelectorAll('main a[href^="#/node/"]')].map(a => decodeURIComponent(a.getAttribute("href").slice(7))).filter(id => !/^(ref|gwc|outbox|fb|audit|ses|era)_/.test(id))`)
	require.Empty(t, broken, "every node link names a node")
	// A turn EverMemOS refuses is a failed write, healing through the outbox.
	em.Faults.FailNextOn(http.MethodPost, "/api/v1/memories", 1, http.StatusServiceUnavailable, `{"code":"DOWN","message":"down"}`)
	ingestAs(t, base, agentKeyA, "s4", "t1", "I like long walks")
	openPage(t, ctx, base, "/failed-writes", "failed-writes")
	browse(t, ctx, "failed writes per backend", chromedp.WaitVisible(chromedp.CSS(`tr[data-backend="EVERMEMOS"]`)))
	require.Equal(t, "1", evaluate[string](t, ctx, `document.querySelector('tr[data-backend="EVERMEMOS"] [data-count="failed"]').textContent`))
	require.Equal(t, "1", evaluate[string](t, ctx, `document.querySelector('tr[data-backend="EVERMEMOS"] [data-count="healing"]').textContent`))
	screenshot(t, ctx, "failed-writes")
	// Throughput and latency per backend, from the gateway's own metrics:
	// some writes, then the sample that holds them (polled from the API
	// the page reads), then the page.
	for i := range 3 {
		ingestAs(t, base, agentKeyA, "s5", fmt.Sprintf("t%d", i), "the trend of a write")
	}
	require.Eventually(t, func() bool { return writeLatencySampled(t, base) }, browserStepTimeout, 50*time.Millisecond, "a sample holds the writes")
	openPage(t, ctx, base, "/backends", "backends")
	browse(t, ctx, "every backend", chromedp.WaitVisible(chromedp.CSS(`tr[data-backend="LOCAL"]`)), chromedp.WaitVisible(chromedp.CSS(`tr[data-backend="EVERMEMOS"]`)))
	for _, trend := range []string{"latency", "throughput"} {
		spark := `tr[data-backend="LOCAL"] [data-trend="` + trend + `"] [data-kind="WRITE"] svg.spark`
		require.Positive(t, evaluate[int](t, ctx, `+(document.querySelector('`+spark+`')?.dataset.points || 0)`), trend)
		require.Positive(t, evaluate[int](t, ctx, `document.querySelector('`+spark+` polyline')?.getAttribute("points")?.split(" ").length || 0`), trend+": a line is drawn")
		label := evaluate[string](t, ctx, `document.querySelector('`+spark+`').getAttribute("aria-label")`)
		require.Contains(t, label, "memory_gateway_backend_call_duration_seconds", "the sparkline names its source")
		require.Contains(t, label, "replica ")
	}
	source := evaluate[string](t, ctx, `document.querySelector("[data-trend-source]").textContent`)
	require.Contains(t, source, "memory_gateway_backend_call_duration_seconds")
	require.Contains(t, source, "Each replica keeps its own window")
	screenshot(t, ctx, "backends")
	gqlData(t, base, operatorKey, `mutation { eraseSubject(input: {workspaceId: "acme", userId: "bob", reason: "asked"}) { request { id } } }`, nil)
	openPage(t, ctx, base, "/erasures", "erasures")
	browse(t, ctx, "the erasure", chromedp.WaitVisible(chromedp.CSS(`tr[data-erasure]`)))
	screenshot(t, ctx, "erasures")
	if screenshots && os.Getenv(screenshotsEnv) != "" {
		openPage(t, ctx, base, "/jobs", "jobs")
		screenshot(t, ctx, "jobs")
		_, err := chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: "dark"}},
		})
		require.NoError(t, err)
		openPage(t, ctx, base, "/session?workspace=acme&session=s1", "session")
		screenshot(t, ctx, "session-dark")
		browse(t, ctx, "phone width", chromedp.EmulateViewport(consolePhoneWidth, consolePhoneHeight))
		openPage(t, ctx, base, "/jobs", "jobs")
		screenshot(t, ctx, "jobs-phone")
		browse(t, ctx, "desktop width", chromedp.EmulateViewport(consoleWidth, consoleHeight))
		_, err = chromedp.Call(ctx, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{})
		require.NoError(t, err)
	}

	// A key sees what its grants allow: another workspace's admin sees none
	// of acme's jobs.
	useKey(t, ctx, adminKeyB)
	openPage(t, ctx, base, "/jobs", "jobs")
	require.Zero(t, evaluate[int](t, ctx, `document.querySelectorAll("tr[data-job]").length`), "globex's admin sees no acme job")
	// The dashboard key runs only trusted documents: the console's own.
	useKey(t, ctx, dashKeyA)
	openPage(t, ctx, base, "/jobs", "jobs")
	browse(t, ctx, "the dashboard sees acme's jobs", chromedp.WaitVisible(chromedp.CSS(`tr[data-job="`+job+`"]`)))
	openPage(t, ctx, base, "/session?workspace=acme&session=s1", "session")
	browse(t, ctx, "and draws a session's graph", chromedp.WaitVisible(chromedp.CSS(`svg.graph a[data-node="`+refID+`"]`)))
	openPage(t, ctx, base, "/job/"+url.PathEscape(job), "job")
	browse(t, ctx, "and opens a job", chromedp.WaitVisible(chromedp.CSS(`table[aria-label="Outbox events"] tr[data-event]`)))
	require.Equal(t, dashKeyA, evaluate[string](t, ctx, `sessionStorage.getItem("memory-gateway.console.key")`), "the key stays in sessionStorage")

	origin := strings.TrimPrefix(base, "http://")
	for _, u := range requests.all() {
		require.True(t, strings.HasPrefix(u, "http://"+origin+"/") || strings.HasPrefix(u, "ws://"+origin+"/") || strings.HasPrefix(u, "data:"),
			"the console asked for %s, outside its origin", u)
		require.NotContains(t, u, operatorKey, "a key never goes into a URL")
	}
}

// TestConsoleDevModeAndHeaders: in dev mode no key is needed; the console is
// served with a Content Security Policy that allows no inline script and no
// other origin.
func TestConsoleDevModeAndHeaders(t *testing.T) {
	t.Parallel()
	base := startServerWith(t, map[string]string{"DATABASE_URL": pt.URL(t, pt.SQLite)})
	resp, err := http.Get(base + "/console/")
	require.NoError(t, err)
	_ = resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	csp := resp.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self'")
	require.NotContains(t, csp, "unsafe-inline")
	require.Contains(t, csp, "connect-src 'self'")

	ctx, _ := newBrowser(t)
	ingestAs(t, base, "", "s1", "t1", "hello")
	commitAs(t, base, "", "s1")
	openPage(t, ctx, base, "/jobs", "jobs")
	browse(t, ctx, "a job without a key", chromedp.WaitVisible(chromedp.CSS(`tr[data-job]`)))
}

// seededJob is a commit_jobs row written straight into the store, so that a
// test can hold thousands of jobs without running thousands of commits.
type seededJob struct {
	bun.BaseModel `bun:"table:commit_jobs"`
	gateway.CommitJob
}

// seedJobs migrates the store and inserts n finished jobs of workspace acme,
// a minute apart, in batches: every seventh FAILED, the rest SUCCESS. It
// runs before the gateway starts: a SQLite store has one process at a time.
func seedJobs(t *testing.T, dbURL string, n int) {
	t.Helper()
	ctx := context.Background()
	db, err := persistence.Open(ctx, dbURL)
	require.NoError(t, err)
	defer func() { _ = db.Close() }()
	require.NoError(t, db.Migrate(ctx, slog.New(slog.DiscardHandler)))
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	const batch = 500
	for from := 0; from < n; from += batch {
		rows := make([]seededJob, 0, batch)
		for i := from; i < from+batch && i < n; i++ {
			created := start.Add(time.Duration(i) * time.Minute)
			finished := created.Add(time.Duration(1+i%9) * time.Second)
			status := gateway.JobSuccess
			if i%7 == 0 {
				status = gateway.JobFailed
			}
			rows = append(rows, seededJob{CommitJob: gateway.CommitJob{
				ID: fmt.Sprintf("gwc_seed%08d", i), Kind: gateway.JobKindCommit, WorkspaceID: "acme", UserID: "alice", AgentID: "helper",
				SessionID: fmt.Sprintf("seed-%d", i), Namespace: "support", Status: status, Metadata: gateway.Metadata{},
				CreatedAt: created, UpdatedAt: finished, StartedAt: &created, FinishedAt: &finished, Version: 1,
			}})
		}
		_, err := db.NewInsert().Model(&rows).Exec(ctx)
		require.NoError(t, err)
	}
}

// TestConsoleAtVolume: with 5,000 jobs the jobs page draws one page, tells
// the honest total and the totals per status, and loads more on demand.
func TestConsoleAtVolume(t *testing.T) {
	chromiumPath(t)
	t.Parallel()
	for _, d := range pt.Dialects() {
		t.Run(string(d), func(t *testing.T) {
			t.Parallel()
			const jobs = 5000
			dbURL := pt.URL(t, d)
			seedJobs(t, dbURL, jobs)
			base := startServerWith(t, map[string]string{"DATABASE_URL": dbURL, "API_KEYS_FILE": keysFile(t), "WORKER": "false"})
			ctx, _ := newBrowser(t)
			browse(t, ctx, "open the console", chromedp.Navigate(base+"/console/#/jobs"), chromedp.WaitVisible(chromedp.ID("api-key")))
			useKey(t, ctx, operatorKey)
			openPage(t, ctx, base, "/jobs?workspace=acme", "jobs")
			require.Equal(t, 50, evaluate[int](t, ctx, `document.querySelectorAll("tr[data-job]").length`), "one page is drawn")
			require.Equal(t, "5000", evaluate[string](t, ctx, `document.querySelector("p.pager").dataset.total`))
			require.Contains(t, evaluate[string](t, ctx, `document.querySelector("p.pager").textContent`), "Showing 50 of 5000 jobs")
			failed := (jobs + 6) / 7
			require.Equal(t, fmt.Sprint(failed), evaluate[string](t, ctx, `document.querySelector('nav.totals a[data-total="FAILED"] .n').textContent`))
			require.Equal(t, fmt.Sprint(jobs-failed), evaluate[string](t, ctx, `document.querySelector('nav.totals a[data-total="SUCCESS"] .n').textContent`))
			require.Equal(t, "gwc_seed00004999", evaluate[string](t, ctx, `document.querySelector("tr[data-job]").dataset.job`), "newest first")
			screenshot(t, ctx, "jobs-volume")
			browse(t, ctx, "load more", chromedp.Click(chromedp.CSS(`p.pager button.more`)),
				chromedp.WaitVisible(chromedp.CSS(`p.pager[data-shown="100"]`)))
			require.Equal(t, 100, evaluate[int](t, ctx, `new Set([...document.querySelectorAll("tr[data-job]")].map(r => r.dataset.job)).size`), "a second page, none repeated")
			require.Equal(t, "gwc_seed00004900", evaluate[string](t, ctx, `[...document.querySelectorAll("tr[data-job]")].at(-1).dataset.job`))
			// The FAILED total is a link to the failed jobs, counted the same.
			browse(t, ctx, "the failed jobs", chromedp.Click(chromedp.CSS(`nav.totals a[data-total="FAILED"]`)),
				chromedp.WaitVisible(chromedp.CSS(`main[data-ready="true"] p.pager[data-total="`+fmt.Sprint(failed)+`"]`)))
			require.Zero(t, evaluate[int](t, ctx, `[...document.querySelectorAll("tr[data-job] td.status [data-status]")].filter(b => b.dataset.status !== "FAILED").length`))
			// A session of 55 turns: the first 50 refs are drawn, oldest turn
			// first, with a note that more exist, and the rest load on demand.
			for i := range 55 {
				ingestAs(t, base, agentKeyA, "long", fmt.Sprintf("t%03d", i), "turn")
			}
			openPage(t, ctx, base, "/session?workspace=acme&session=long", "session")
			require.Equal(t, "true", evaluate[string](t, ctx, `document.querySelector("p.refs-shown").dataset.capped`), "the cap is told")
			require.Equal(t, "50", evaluate[string](t, ctx, `document.querySelector("p.refs-shown").dataset.refs`))
			browse(t, ctx, "load the other refs", chromedp.Click(chromedp.CSS(`p.refs-shown button.more`)),
				chromedp.WaitVisible(chromedp.CSS(`p.refs-shown[data-capped="false"][data-refs="55"]`)))
			order := evaluate[[]string](t, ctx, `[...document.querySelectorAll('table[aria-label="Session nodes"] tbody tr')].filter(r => r.cells[0].textContent === "Turn").map(r => r.cells[1].textContent)`)
			require.Len(t, order, 55)
			require.Equal(t, "t000", order[0], "the oldest turn first")
			require.Equal(t, "t054", order[54])

			// A time range: the first hour holds 60 jobs.
			openPage(t, ctx, base, "/jobs?workspace=acme&from="+url.QueryEscape(localMinute(t, ctx, "2026-01-01T00:00:00Z"))+"&to="+url.QueryEscape(localMinute(t, ctx, "2026-01-01T01:00:00Z")), "jobs")
			require.Equal(t, "60", evaluate[string](t, ctx, `document.querySelector("p.pager").dataset.total`))
			require.Equal(t, "gwc_seed00000059", evaluate[string](t, ctx, `document.querySelector("tr[data-job]").dataset.job`))
		})
	}
}

// localMinute writes an instant as the browser's datetime-local value (its
// own time zone), as the time range fields hold it.
func localMinute(t *testing.T, ctx context.Context, instant string) string {
	t.Helper()
	return evaluate[string](t, ctx, `(() => { const d = new Date("`+instant+`"); const p = (n) => String(n).padStart(2, "0");
		return d.getFullYear() + "-" + p(d.getMonth() + 1) + "-" + p(d.getDate()) + "T" + p(d.getHours()) + ":" + p(d.getMinutes()); })()`)
}

// writeLatencySampled reports whether the backend metrics hold a point with
// the latency of LOCAL writes.
func writeLatencySampled(t *testing.T, base string) bool {
	t.Helper()
	data := gqlData(t, base, operatorKey, `{ backendMetrics { backends { backend kind points { p95Ms } } } }`, nil)
	for _, b := range data["backendMetrics"].(map[string]any)["backends"].([]any) {
		series := b.(map[string]any)
		if series["backend"] != "LOCAL" || series["kind"] != "WRITE" {
			continue
		}
		for _, p := range series["points"].([]any) {
			if p.(map[string]any)["p95Ms"] != nil {
				return true
			}
		}
	}
	return false
}
