package main

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Dashboard scenario settings.
const (
	dashboardSchema    = "dashboard"
	dashboardNamespace = "bench/dashboard"
	dashboardUser      = "u1"
	dashboardTurns     = 2
	dashboardWarmup    = 5
	dashboardPageSize  = 50
	// statementSamples are taken per count; the median is kept.
	statementSamples = 5
	// dashboardIdle keeps the worker's poll and rescue sweep quiet while
	// queries are timed; commits still wake it.
	dashboardIdle = "1h"
)

const dashboardQuery = `query($ws: ID!, $first: Int!) {
  commitJobs(filter: {workspaceId: $ws}, first: $first) {
    edges { cursor node {
      id status createdRefsCount updatedAt
      outboxSummary { totalEvents pendingEvents processingEvents successEvents skippedEvents deadLetterEvents }
      outboxEvents(first: 5) { edges { node { id backend status attemptCount lastError } } }
      refs(first: 10) { edges { node { id backend refType status nativeId } } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}`

// deepDashboardQuery reads the refs graph several levels deep: jobs →
// session → refs → job and feedback, and each job's refs → session.
const deepDashboardQuery = `query($ws: ID!, $first: Int!) {
  commitJobs(filter: {workspaceId: $ws}, first: $first) {
    edges { node {
      id status
      session { id refs(first: 20) { edges { node { id backend status job { id status } feedback(first: 3) { edges { node { id status } } } } } } }
      refs(first: 10) { edges { node { id session { id } } } }
    } }
  }
}`

// Deep query settings: runs whose statements are counted, and the
// concurrent plain dashboard queries beside them.
const (
	deepRuns        = 50
	deepLoadClients = 4
)

type dashboardAnswer struct {
	Jobs struct {
		Edges []struct {
			Node struct {
				ID   string `json:"id"`
				Refs struct {
					Edges []struct{} `json:"edges"`
				} `json:"refs"`
			} `json:"node"`
		} `json:"edges"`
	} `json:"commitJobs"`
}

// dashboardSize is what one workspace size measured.
type dashboardSize struct {
	Jobs       int      `json:"jobs"`
	Statements *float64 `json:"statementsPerQuery"`
	RefsSeen   int      `json:"refsSeen"`
}

func runDashboard(ctx context.Context, e *env) (*ScenarioResult, error) {
	res := &ScenarioResult{Title: fmt.Sprintf("one query of %d commit jobs with refs, outbox summaries and events", dashboardPageSize)}
	url, err := e.freshSchema(ctx, dashboardSchema)
	if err != nil {
		return res, err
	}
	srv, err := e.startServer(ctx, "dashboard", url, map[string]string{
		"WORKER_POLL_INTERVAL": dashboardIdle, "WORKER_RESCUE_INTERVAL": dashboardIdle,
		// The deep query's page of 50 jobs with 20 refs each is over the
		// default limit.
		"COMPLEXITY_LIMIT": "200000",
	})
	if err != nil {
		return res, err
	}
	client := newGQLClient(srv.base)
	sizes := slices.Clone(e.cfg.dashboardSizes)
	slices.Sort(sizes)
	for _, n := range sizes {
		e.logf("dashboard: seeding %d committed jobs", n)
		if err := seedDashboard(ctx, client, n); err != nil {
			return res, err
		}
	}
	var measured []dashboardSize
	for _, n := range sizes {
		s := dashboardSize{Jobs: n}
		var ans dashboardAnswer
		if err := client.do(ctx, dashboardQuery, dashboardVars(n), &ans); err != nil {
			return res, err
		}
		if len(ans.Jobs.Edges) != min(n, dashboardPageSize) {
			return res, fmt.Errorf("dashboard of %d jobs returned %d", n, len(ans.Jobs.Edges))
		}
		for _, edge := range ans.Jobs.Edges {
			s.RefsSeen += len(edge.Node.Refs.Edges)
		}
		if s.Statements, err = countStatements(ctx, client, n); err != nil {
			return res, err
		}
		measured = append(measured, s)
	}
	largest := sizes[len(sizes)-1]
	e.logf("dashboard: timing %d queries of %d jobs, each beside a { __typename } round trip", e.cfg.dashboardRuns, largest)
	query, base, err := timeDashboard(ctx, client, largest, e.cfg.dashboardRuns)
	if err != nil {
		return res, err
	}
	res.Rows = []Row{
		figure(fmt.Sprintf("p50 dashboard query, %d jobs", largest), unitMs, query.P50, base.P50, "{ __typename } round trip"),
		figure(fmt.Sprintf("p99 dashboard query, %d jobs", largest), unitMs, query.P99, base.P99, "{ __typename } round trip"),
	}
	e.logf("dashboard: %d deep queries of %d jobs, counted, beside %d clients running the dashboard query", deepRuns, largest, deepLoadClients)
	deep, err := runDeepDashboard(ctx, client, largest)
	if err != nil {
		return res, err
	}
	res.Rows = append(res.Rows,
		figure(fmt.Sprintf("deep query statements, max of %d runs under load", deepRuns), unitCount, deep.Max, deep.Min, "min of the same runs").equalToBaseline(),
		figure(fmt.Sprintf("p50 deep query under load, %d jobs", largest), unitMs, deep.Latency.P50, deep.Typename.P50, "{ __typename } round trip under the same load"),
		figure(fmt.Sprintf("p99 deep query under load, %d jobs", largest), unitMs, deep.Latency.P99, deep.Typename.P99, "{ __typename } round trip under the same load"),
	)
	smallest := measured[0]
	for _, s := range measured[1:] {
		res.Rows = append(res.Rows, figure(fmt.Sprintf("SQL statements per query, %d jobs", s.Jobs), unitCount,
			deref(s.Statements), deref(smallest.Statements), fmt.Sprintf("same query, %d jobs", smallest.Jobs)).equalToBaseline())
	}
	res.Notes = append(dashboardNotes(measured, e.cfg.dashboardRuns),
		fmt.Sprintf("Deep query (jobs → session → refs(first: 20) → job and feedback(first: 3), and each job's refs(first: 10) → session), %d jobs: statements min %.0f / median %.0f / max %.0f over %d runs, counted by the server per request (extensions.statements), while %d clients ran the dashboard query in a loop.",
			largest, deep.Min, deep.Median, deep.Max, deepRuns, deepLoadClients))
	res.Raw = map[string]any{"query": query, "typename": base, "sizes": measured, "deep": deep}
	return res, nil
}

// deepResult is what the deep query measured.
type deepResult struct {
	Min, Median, Max float64
	Latency          Latency
	Typename         Latency
}

// runDeepDashboard runs the deep query deepRuns times, each beside a
// { __typename } round trip, while deepLoadClients run the plain dashboard
// query, and counts each run's statements.
func runDeepDashboard(ctx context.Context, client *gqlClient, n int) (deepResult, error) {
	var res deepResult
	loadCtx, stopLoad := context.WithCancel(ctx)
	var load sync.WaitGroup
	loadErr := make(chan error, deepLoadClients)
	for range deepLoadClients {
		load.Go(func() {
			for loadCtx.Err() == nil {
				if err := client.do(loadCtx, dashboardQuery, dashboardVars(n), nil); err != nil && loadCtx.Err() == nil {
					loadErr <- err
					return
				}
			}
		})
	}
	defer func() { stopLoad(); load.Wait() }()
	vars := dashboardVars(n)
	counts := make([]float64, 0, deepRuns)
	var q, b []time.Duration
	for range deepRuns {
		select {
		case err := <-loadErr:
			return res, fmt.Errorf("the concurrent dashboard load failed: %w", err)
		default:
		}
		rtt, err := client.timeTypename(ctx)
		if err != nil {
			return res, err
		}
		b = append(b, rtt)
		t0 := time.Now()
		count, err := client.doCounted(ctx, deepDashboardQuery, vars, nil)
		if err != nil {
			return res, err
		}
		q = append(q, time.Since(t0))
		counts = append(counts, float64(count))
	}
	slices.Sort(counts)
	res.Min, res.Median, res.Max = counts[0], counts[len(counts)/2], counts[len(counts)-1]
	res.Latency, res.Typename = summarize(q), summarize(b)
	return res, nil
}

func dashboardWorkspace(n int) string { return fmt.Sprintf("dash%d", n) }

func dashboardVars(n int) map[string]any {
	return map[string]any{"ws": dashboardWorkspace(n), "first": dashboardPageSize}
}

// seedDashboard commits n sessions of a fresh workspace and waits until
// every job is terminal.
func seedDashboard(ctx context.Context, client *gqlClient, n int) error {
	ws := dashboardWorkspace(n)
	var turns []turnInput
	inputs := make([]commitInput, n)
	for i := range n {
		session := fmt.Sprintf("s%d", i)
		turns = append(turns, sessionTurns(ws, dashboardUser, session, dashboardNamespace, dashboardTurns, func(t int) string {
			return fmt.Sprintf("Session %d turn %d: the quarterly report is due on Friday.", i, t)
		})...)
		inputs[i] = commitInput{WorkspaceID: ws, UserID: dashboardUser, AgentID: benchAgent, SessionID: session, Namespace: dashboardNamespace}
	}
	if err := client.seedTurns(ctx, turns); err != nil {
		return err
	}
	ids, err := client.commitAll(ctx, inputs)
	if err != nil {
		return err
	}
	_, err = client.waitTerminal(ctx, ids)
	return err
}

// countStatements is the median number of statements one dashboard query
// runs, as the server counts them for the request (extensions.statements):
// nothing else the server does meanwhile (a scrape, the worker) is counted.
func countStatements(ctx context.Context, client *gqlClient, n int) (*float64, error) {
	query, err := medianOf(statementSamples, func() (float64, error) {
		count, err := client.doCounted(ctx, dashboardQuery, dashboardVars(n), nil)
		return float64(count), err
	})
	if err != nil {
		return nil, err
	}
	return num(query), nil
}

func medianOf(k int, sample func() (float64, error)) (float64, error) {
	values := make([]float64, 0, k)
	for range k {
		v, err := sample()
		if err != nil {
			return 0, err
		}
		values = append(values, v)
	}
	slices.Sort(values)
	return values[len(values)/2], nil
}

// timeDashboard times runs dashboard queries, each beside a { __typename }
// round trip.
func timeDashboard(ctx context.Context, client *gqlClient, n, runs int) (query, base Latency, err error) {
	vars := dashboardVars(n)
	for range dashboardWarmup {
		if err := client.do(ctx, dashboardQuery, vars, nil); err != nil {
			return query, base, err
		}
	}
	var q, b []time.Duration
	for range runs {
		rtt, err := client.timeTypename(ctx)
		if err != nil {
			return query, base, err
		}
		b = append(b, rtt)
		t0 := time.Now()
		if err := client.do(ctx, dashboardQuery, vars, nil); err != nil {
			return query, base, err
		}
		q = append(q, time.Since(t0))
	}
	return summarize(q), summarize(b), nil
}

func dashboardNotes(measured []dashboardSize, runs int) []string {
	notes := []string{
		fmt.Sprintf("Each job: %d turns committed through the local backend (one outbox event, 3 refs), all terminal before measuring; the query pages %d jobs with outboxSummary, outboxEvents(first: 5) and refs(first: 10); %d timed runs.", dashboardTurns, dashboardPageSize, runs),
	}
	for _, s := range measured {
		notes = append(notes, fmt.Sprintf("%d jobs: %s statements per query (median of %d, counted by the server per request: extensions.statements); %d refs returned.",
			s.Jobs, formatPtr(s.Statements, unitCount), statementSamples, s.RefsSeen))
	}
	return notes
}
