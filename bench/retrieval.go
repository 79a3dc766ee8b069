package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/memory-gateway/memory-gateway/backends/evermemos/evermemostest"
	"github.com/memory-gateway/memory-gateway/backends/openviking/openvikingtest"
	"github.com/memory-gateway/memory-gateway/backends/remote"
)

// Retrieval scenario settings.
const (
	retrievalSchema    = "retrieval"
	retrievalWorkspace = "retrieval"
	retrievalNamespace = "bench/retrieval"
	retrievalUser      = "u1"
	retrievalSession   = "r1"
	retrievalLimit     = 10
	retrievalWarmup    = 5
	retrievalQuery     = "what is my favourite colour and my favourite drink"
	retrievalTarget    = 1.03
	// retrievalPoll makes the OpenViking commit task complete quickly.
	retrievalPoll = "100ms"
)

var retrievalTurns = []string{
	"My favourite colour is blue, like the sea in Lisbon.",
	"I prefer green tea over coffee, especially in the morning.",
	"My favourite drink after work is a cold lemonade.",
	"I work as a pilot and usually fly on Mondays.",
	"My sister's favourite colour is red.",
}

const retrieveQuery = `query($in: RetrieveContextInput!) { retrieveContext(input: $in) { items { text sourceBackend } backends { backend outcome latencyMs error } } }`

type retrieveAnswer struct {
	Retrieve struct {
		Items []struct {
			SourceBackend string `json:"sourceBackend"`
		} `json:"items"`
		Backends []struct {
			Backend   string  `json:"backend"`
			Outcome   string  `json:"outcome"`
			LatencyMs int     `json:"latencyMs"`
			Error     *string `json:"error"`
		} `json:"backends"`
	} `json:"retrieveContext"`
}

func runRetrieval(ctx context.Context, e *env) (*ScenarioResult, error) {
	res := &ScenarioResult{Title: "retrieveContext fan-out over fake OpenViking and EverMemOS with fixed latencies, plus the local backend"}
	ov, em := openvikingtest.New(), evermemostest.New()
	defer ov.Close()
	defer em.Close()
	url, err := e.freshSchema(ctx, retrievalSchema)
	if err != nil {
		return res, err
	}
	srv, err := e.startServer(ctx, "retrieval", url, map[string]string{
		"OPENVIKING_URL": ov.URL, "EVERMEMOS_URL": em.URL, "OPENVIKING_POLL_INTERVAL": retrievalPoll,
	})
	if err != nil {
		return res, err
	}
	client := newGQLClient(srv.base)
	if err := seedRetrieval(ctx, client); err != nil {
		return res, err
	}
	ov.Faults.SetLatency(e.cfg.openVikingLatency)
	em.Faults.SetLatency(e.cfg.everMemOSLatency)
	slowest, slowestEnum, slowestLatency, direct := "EverMemOS", "EVERMEMOS", e.cfg.everMemOSLatency, directEverMemOS(em.URL)
	if e.cfg.openVikingLatency > e.cfg.everMemOSLatency {
		slowest, slowestEnum, slowestLatency, direct = "OpenViking", "OPENVIKING", e.cfg.openVikingLatency, directOpenViking(ov.URL)
	}
	in := map[string]any{"in": map[string]any{
		"workspaceId": retrievalWorkspace, "userId": retrievalUser, "agentId": benchAgent,
		"namespace": retrievalNamespace, "query": retrievalQuery, "limit": retrievalLimit,
	}}
	httpClient := &http.Client{Timeout: httpRequestTimeout}
	var first retrieveAnswer
	for range retrievalWarmup {
		if err := client.do(ctx, retrieveQuery, in, &first); err != nil {
			return res, err
		}
	}
	e.logf("retrieval: %d retrieveContext calls, each beside a direct call to the %s fake", e.cfg.retrievalQueries, slowest)
	queriesBefore, haveMetrics, err := srv.metrics(ctx)
	if err != nil {
		return res, err
	}
	// The calls take about the slowest latency twice each (gateway and
	// direct): the profile covers most of them.
	profile := e.profileAsync(ctx, srv, "retrieval", time.Duration(e.cfg.retrievalQueries)*2*slowestLatency*9/10)
	var gw, dir, seen []time.Duration
	notOK := 0
	for range e.cfg.retrievalQueries {
		var ans retrieveAnswer
		t0 := time.Now()
		if err := client.do(ctx, retrieveQuery, in, &ans); err != nil {
			return res, err
		}
		gw = append(gw, time.Since(t0))
		for _, b := range ans.Retrieve.Backends {
			if b.Outcome != "OK" {
				notOK++
			}
			if b.Backend == slowestEnum {
				seen = append(seen, time.Duration(b.LatencyMs)*time.Millisecond)
			}
		}
		d, err := direct(ctx, httpClient)
		if err != nil {
			return res, err
		}
		dir = append(dir, d)
	}
	statements := "n/a (no /metrics)"
	if haveMetrics {
		queriesAfter, _, err := srv.metrics(ctx)
		if err != nil {
			return res, err
		}
		statements = fmt.Sprintf("%.1f", (queriesAfter[metricQueries]-queriesBefore[metricQueries])/float64(e.cfg.retrievalQueries))
	}
	g, d := summarize(gw), summarize(dir)
	fixed := ms(slowestLatency)
	res.Rows = []Row{
		figure("p50 retrieveContext", unitMs, g.P50, fixed, "slowest backend's fixed latency").ratioAtMost(retrievalTarget),
		figure("p50 retrieveContext", unitMs, g.P50, d.P50, slowest+" search called directly, p50").ratioAtMost(retrievalTarget),
		figure("p99 retrieveContext", unitMs, g.P99, d.P99, slowest+" search called directly, p99"),
	}
	res.Notes = []string{
		fmt.Sprintf("Fakes (backends/openviking/openvikingtest, backends/evermemos/evermemostest) run in the bench process with fixed latencies OpenViking %s and EverMemOS %s (remotetest.Faults.SetLatency); the server also has the local backend. Seed: %d turns ingested into all three backends and committed (job terminal) before the latencies are set.",
			e.cfg.openVikingLatency, e.cfg.everMemOSLatency, len(retrievalTurns)),
		fmt.Sprintf("%d sequential calls, each followed by a direct call to the slowest fake's search endpoint with the adapter's body; backend outcomes other than OK: %d; items in the first answer by backend: %v.",
			e.cfg.retrievalQueries, notOK, itemsByBackend(first)),
		fmt.Sprintf("The gateway's own figure for the %s call (backends.latencyMs, whole ms): p50 %.0f ms, p99 %.0f ms; the rest of the p50 is the GraphQL request, the fan-out, the merge and what runs after it. SQL statements per retrieveContext (memory_gateway_db_queries_total, idle worker polls included): %s.",
			slowest, summarize(seen).P50, summarize(seen).P99, statements),
	}
	if p := profile(); p != "" {
		res.Notes = append(res.Notes, "Server CPU profile: "+p)
	}
	res.Raw = map[string]any{"gateway": g, "direct": d, "adapterSeen": summarize(seen), "slowestBackend": slowest, "fixedLatencyMs": fixed, "nonOKOutcomes": notOK}
	return res, nil
}

// seedRetrieval ingests the turns into every backend and commits them.
func seedRetrieval(ctx context.Context, client *gqlClient) error {
	turns := sessionTurns(retrievalWorkspace, retrievalUser, retrievalSession, retrievalNamespace, len(retrievalTurns), func(i int) string { return retrievalTurns[i] })
	for _, t := range turns {
		if err := client.ingest(ctx, t); err != nil {
			return err
		}
	}
	job, err := client.commit(ctx, commitInput{
		WorkspaceID: retrievalWorkspace, UserID: retrievalUser, AgentID: benchAgent,
		SessionID: retrievalSession, Namespace: retrievalNamespace,
	})
	if err != nil {
		return err
	}
	states, err := client.waitTerminal(ctx, []string{job.ID})
	if err != nil {
		return err
	}
	if states[0].Status != "SUCCESS" {
		return fmt.Errorf("seed commit ended %s", states[0].Status)
	}
	return nil
}

func itemsByBackend(a retrieveAnswer) map[string]int {
	out := map[string]int{}
	for _, it := range a.Retrieve.Items {
		out[it.SourceBackend]++
	}
	return out
}

// directCall times one search on a fake.
type directCall func(ctx context.Context, c *http.Client) (time.Duration, error)

// directEverMemOS calls the EverMemOS fake's search as the adapter does,
// for the user the adapter names (workspace and user, the server's ids not
// being pseudonymous here), so the fake finds and answers the same memories.
func directEverMemOS(base string) directCall {
	body := map[string]any{
		"query": retrievalQuery, "method": "hybrid", "memory_types": []string{"episodic_memory", "profile"},
		"top_k": retrievalLimit, "filters": map[string]any{"user_id": remote.Identify(retrievalWorkspace, retrievalUser).ScopedUserID()},
	}
	return func(ctx context.Context, c *http.Client) (time.Duration, error) {
		return timePost(ctx, c, base+"/api/v1/memories/search", body, nil)
	}
}

// directOpenViking calls the OpenViking fake's find as the adapter does.
func directOpenViking(base string) directCall {
	body := map[string]any{"query": retrievalQuery, "limit": retrievalLimit}
	headers := map[string]string{"X-OpenViking-Account": retrievalWorkspace, "X-OpenViking-User": retrievalUser}
	return func(ctx context.Context, c *http.Client) (time.Duration, error) {
		return timePost(ctx, c, base+"/api/v1/search/find", body, headers)
	}
}

func timePost(ctx context.Context, c *http.Client, url string, body any, headers map[string]string) (time.Duration, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return 0, fmt.Errorf("error encoding a search: %w", err)
	}
	started := time.Now()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(raw))
	if err != nil {
		return 0, fmt.Errorf("error building a search: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := c.Do(req)
	if err != nil {
		return 0, fmt.Errorf("error calling %s: %w", url, err)
	}
	defer func() { _ = resp.Body.Close() }()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return 0, fmt.Errorf("error reading %s: %w", url, err)
	}
	elapsed := time.Since(started)
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	return elapsed, nil
}
