package main

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Commit scenario settings.
const (
	commitSchema       = "commit"
	commitWorkspace    = "commit"
	commitNamespace    = "bench/commit"
	commitUser         = "u1"
	commitTurns        = 3
	commitWaitTimeout  = 30 * time.Second
	jobUpdatedField    = "commitJobUpdated"
	jobUpdatedSubQuery = `subscription($id: ID!) { commitJobUpdated(id: $id) { id status sessionId updatedAt } }`
)

// commitSample is one commit's timing.
type commitSample struct {
	total    time.Duration
	mutation time.Duration
}

func runCommit(ctx context.Context, e *env) (*ScenarioResult, error) {
	res := &ScenarioResult{Title: "commitSession until a terminal job state arrives over a websocket subscription"}
	url, err := e.freshSchema(ctx, commitSchema)
	if err != nil {
		return res, err
	}
	srv, err := e.startServer(ctx, "commit", url, nil)
	if err != nil {
		return res, err
	}
	client := newGQLClient(srv.base)
	k := e.cfg.commitSessions
	e.logf("commit: seeding %d sessions of %d turns", k, commitTurns)
	var turns []turnInput
	for i := range k {
		turns = append(turns, sessionTurns(commitWorkspace, commitUser, commitSession(i), commitNamespace, commitTurns, func(t int) string {
			return fmt.Sprintf("Session %d turn %d: I usually fly to Lisbon in May and prefer aisle seats.", i, t)
		})...)
	}
	if err := client.seedTurns(ctx, turns); err != nil {
		return res, err
	}
	ws, err := dialWS(ctx, srv.base)
	if err != nil {
		return res, err
	}
	defer ws.close()
	e.logf("commit: timing %d commits, each beside a { __typename } round trip", k)
	var totals, mutations, baseline []time.Duration
	statuses := map[string]int{}
	for i := range k {
		rtt, err := client.timeTypename(ctx)
		if err != nil {
			return res, err
		}
		baseline = append(baseline, rtt)
		s, status, err := commitAndWait(ctx, client, ws, i)
		if err != nil {
			return res, err
		}
		statuses[status]++
		totals = append(totals, s.total)
		mutations = append(mutations, s.mutation)
	}
	total, base := summarize(totals), summarize(baseline)
	for _, q := range quantiles {
		res.Rows = append(res.Rows, figure(q.name+" commit → terminal", unitMs, q.get(total), q.get(base), "{ __typename } round trip"))
	}
	res.Notes = []string{
		fmt.Sprintf("%d sessions of %d turns, committed one at a time on one server (local backend, in-process worker); clock from sending commitSession to reading the terminal state from commitJobUpdated(id:), subscribed on an open graphql-transport-ws connection once the mutation answered.", k, commitTurns),
		fmt.Sprintf("The commitSession mutation alone: p50 %.2f ms, p99 %.2f ms. Terminal states: %v.", summarize(mutations).P50, summarize(mutations).P99, statuses),
	}
	res.Raw = map[string]any{"commitToTerminal": total, "commitMutation": summarize(mutations), "typename": base, "terminalStatuses": statuses}
	return res, nil
}

func commitSession(i int) string { return "s" + strconv.Itoa(i) }

// commitAndWait commits session i and reads its job's subscription until a
// terminal state.
func commitAndWait(ctx context.Context, client *gqlClient, ws *wsConn, i int) (commitSample, string, error) {
	ctx, cancel := context.WithTimeout(ctx, commitWaitTimeout)
	defer cancel()
	started := time.Now()
	job, err := client.commit(ctx, commitInput{
		WorkspaceID: commitWorkspace, UserID: commitUser, AgentID: benchAgent,
		SessionID: commitSession(i), Namespace: commitNamespace,
	})
	if err != nil {
		return commitSample{}, "", err
	}
	s := commitSample{mutation: time.Since(started)}
	subID := strconv.Itoa(i)
	if err := ws.subscribe(ctx, subID, jobUpdatedSubQuery, map[string]any{"id": job.ID}); err != nil {
		return s, "", err
	}
	for {
		m, received, err := ws.next(ctx)
		if err != nil {
			return s, "", fmt.Errorf("waiting for job %s: %w", job.ID, err)
		}
		if m.ID != subID {
			continue
		}
		if m.Type == wsComplete {
			return s, "", fmt.Errorf("subscription to job %s completed before a terminal state", job.ID)
		}
		state, err := decodeJob(m.Payload, jobUpdatedField)
		if err != nil {
			return s, "", err
		}
		if terminal(state.Status) {
			s.total = received.Sub(started)
			return s, state.Status, drainCompletion(ctx, ws, subID)
		}
	}
}

// drainCompletion reads up to the subscription's complete message, so the
// next commit starts on a quiet connection.
func drainCompletion(ctx context.Context, ws *wsConn, subID string) error {
	for {
		m, _, err := ws.next(ctx)
		if err != nil {
			return fmt.Errorf("waiting for the end of subscription %s: %w", subID, err)
		}
		if m.ID == subID && m.Type == wsComplete {
			return nil
		}
	}
}
