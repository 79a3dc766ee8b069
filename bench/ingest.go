package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Ingest scenario settings.
const (
	ingestSchema      = "ingest"
	ingestWorkspace   = "bench"
	ingestNamespace   = "bench/ingest"
	ingestWarmupTurns = 200
	// ingestTargetLevel is the client count the batch load and the
	// profiles run at.
	ingestTargetLevel   = 16
	ingestWarmupClients = 8
	// ingestBatchSize is the turns of one ingestConversationTurns.
	ingestBatchSize        = 20
	ingestBatchTargetRatio = 3
)

// ingestTargets are the throughput targets per client count (turns/s ÷
// pgbench's tps), and the p99 target (÷ pgbench's p99) where there is one.
var ingestTargets = map[int]struct{ ratio, p99Ratio float64 }{
	1:  {ratio: 0.8},
	16: {ratio: 0.85, p99Ratio: 1.2},
	64: {ratio: 1.0},
}

// ingestTables receive one row per turn.
var ingestTables = []string{"local_memories", "memory_refs", "audit_entries"}

// ingestLevel is one client count, measured both ways.
type ingestLevel struct {
	Clients        int                `json:"clients"`
	Turns          int                `json:"turns"`
	Errors         int                `json:"errors"`
	FirstError     string             `json:"firstError,omitempty"`
	ElapsedSeconds float64            `json:"elapsedSeconds"`
	TurnsPerSecond float64            `json:"turnsPerSecond"`
	Latency        Latency            `json:"latency"`
	RowsPerTurn    map[string]float64 `json:"rowsPerTurn"`
	// StatementsPerTurn is from memory_gateway_db_queries_total (nil when
	// /metrics is absent); it includes the idle worker's polls.
	StatementsPerTurn *float64 `json:"statementsPerTurn,omitempty"`
	// CPU splits the machine's CPU time per turn during the gateway run.
	CPU              CPUPerOp           `json:"cpuPerTurn"`
	Pgbench          pgbenchResult      `json:"pgbench"`
	PgbenchRowsPerTx map[string]float64 `json:"pgbenchRowsPerTransaction"`
	Profile          string             `json:"cpuProfile,omitempty"`
	// Batch is the batch load of the same clients, at the target level.
	Batch *batchLevel `json:"batch,omitempty"`
}

// batchLevel is what clients sending ingestConversationTurns measured.
type batchLevel struct {
	TurnsPerSecond float64 `json:"turnsPerSecond"`
	Batches        int     `json:"batches"`
	Errors         int     `json:"errors"`
	// Latency is per batch.
	Latency Latency `json:"latency"`
	Profile string  `json:"cpuProfile,omitempty"`
}

func runIngest(ctx context.Context, e *env) (*ScenarioResult, error) {
	res := &ScenarioResult{Title: "ingestConversationTurn over GraphQL vs pgbench running the same statements"}
	url, err := e.freshSchema(ctx, ingestSchema)
	if err != nil {
		return res, err
	}
	srv, err := e.startServer(ctx, "ingest", url, nil)
	if err != nil {
		return res, err
	}
	client := newGQLClient(srv.base)
	script := filepath.Join(e.tmpDir, "ingest.pgbench.sql")
	if err := os.WriteFile(script, []byte(ingestScript), 0o644); err != nil {
		return res, fmt.Errorf("error writing the pgbench script: %w", err)
	}
	if err := warmUpIngest(ctx, client); err != nil {
		return res, err
	}
	var levels []ingestLevel
	for _, clients := range e.cfg.levels {
		e.logf("ingest: %d clients, gateway then pgbench, %s each", clients, e.cfg.duration)
		lvl, err := e.measureIngestLevel(ctx, srv, client, script, clients)
		if err != nil {
			return res, err
		}
		levels = append(levels, lvl)
	}
	res.Rows = ingestRows(levels)
	res.Notes = ingestNotes(levels, e.cfg.duration)
	for _, l := range levels {
		if l.Batch == nil {
			continue
		}
		b := l.Batch
		res.Rows = append(res.Rows, figure(fmt.Sprintf("turns/s in batches of %d, %s", ingestBatchSize, clientsLabel(l.Clients)), unitPerSecond,
			b.TurnsPerSecond, l.TurnsPerSecond, "single-turn turns/s, same clients").ratioAtLeast(ingestBatchTargetRatio))
		res.Notes = append(res.Notes, fmt.Sprintf("Batches: right after the single turns of the same level (same database state, a checkpoint between), each client sends ingestConversationTurns with %d turns of its own session, ingested in order; %d batches, %d errors.",
			ingestBatchSize, b.Batches, b.Errors))
		if b.Profile != "" {
			res.Notes = append(res.Notes, "Batches: server CPU profile: "+b.Profile)
		}
	}
	res.Raw = map[string]any{"levels": levels, "statementsPerTurn": ingestStatements, "transactionsPerTurn": ingestTransactions, "pgbenchScript": ingestScript}
	return res, nil
}

func warmUpIngest(ctx context.Context, client *gqlClient) error {
	load := ingestLoad(ctx, client, 0, ingestWarmupClients, 0, ingestWarmupTurns/ingestWarmupClients)
	if load.errors > 0 {
		return fmt.Errorf("warm-up ingest failed: %w", load.firstErr)
	}
	return nil
}

func (e *env) measureIngestLevel(ctx context.Context, srv *gatewayServer, client *gqlClient, script string, clients int) (ingestLevel, error) {
	lvl := ingestLevel{Clients: clients}
	if err := e.checkpoint(ctx); err != nil {
		return lvl, err
	}
	before, err := e.countRows(ctx, ingestSchema, ingestTables)
	if err != nil {
		return lvl, err
	}
	queriesBefore, haveMetrics, err := srv.metrics(ctx)
	if err != nil {
		return lvl, err
	}
	profile := e.profileAsync(ctx, srv, fmt.Sprintf("ingest-%d", clients), e.cfg.duration-time.Second)
	cpuBefore, err := readCPU(srv.pid())
	if err != nil {
		return lvl, err
	}
	load := ingestLoad(ctx, client, clients, clients, e.cfg.duration, 0)
	cpuAfter, err := readCPU(srv.pid())
	if err != nil {
		return lvl, err
	}
	lvl.Profile = profile()
	if load.turns == 0 {
		return lvl, fmt.Errorf("no ingest succeeded at %d clients: %w", clients, load.firstErr)
	}
	lvl.Turns, lvl.Errors = load.turns, load.errors
	if load.firstErr != nil {
		lvl.FirstError = load.firstErr.Error()
	}
	lvl.ElapsedSeconds = load.elapsed.Seconds()
	lvl.TurnsPerSecond = float64(load.turns) / load.elapsed.Seconds()
	lvl.Latency = summarize(load.latencies)
	lvl.CPU = cpuPerOp(cpuBefore, cpuAfter, load.turns, 0)
	if haveMetrics {
		queriesAfter, _, err := srv.metrics(ctx)
		if err != nil {
			return lvl, err
		}
		lvl.StatementsPerTurn = num((queriesAfter[metricQueries] - queriesBefore[metricQueries]) / float64(load.turns))
	}
	afterGateway, err := e.countRows(ctx, ingestSchema, ingestTables)
	if err != nil {
		return lvl, err
	}
	lvl.RowsPerTurn = rowsPer(before, afterGateway, load.turns)

	if clients == ingestTargetLevel {
		// Measured here, beside the single turns it is compared with, not
		// after the other levels (their rows and the vacuum they cause).
		if err := e.checkpoint(ctx); err != nil {
			return lvl, err
		}
		e.logf("ingest: %d clients sending batches of %d turns, %s", clients, ingestBatchSize, e.cfg.duration)
		batchProfile := e.profileAsync(ctx, srv, fmt.Sprintf("ingest-batch-%d", clients), e.cfg.duration-time.Second)
		batch := ingestBatchLoad(ctx, client, clients, e.cfg.duration)
		if batch.turns == 0 {
			return lvl, fmt.Errorf("no batch ingest succeeded: %w", batch.firstErr)
		}
		lvl.Batch = &batchLevel{
			TurnsPerSecond: float64(batch.turns) / batch.elapsed.Seconds(), Batches: len(batch.latencies),
			Errors: batch.errors, Latency: summarize(batch.latencies), Profile: batchProfile(),
		}
		if afterGateway, err = e.countRows(ctx, ingestSchema, ingestTables); err != nil {
			return lvl, err
		}
	}

	if err := e.checkpoint(ctx); err != nil {
		return lvl, err
	}
	pg := pgbenchRun{
		binary: e.cfg.pgbench, url: e.benchURL, schema: ingestSchema, script: script, clients: clients,
		duration: e.cfg.duration, vars: map[string]string{"level": strconv.Itoa(clients)},
		logDir: filepath.Join(e.tmpDir, "pgbench-"+strconv.Itoa(clients)),
	}
	if cpuBefore, err = readCPU(srv.pid()); err != nil {
		return lvl, err
	}
	if lvl.Pgbench, err = pg.run(ctx); err != nil {
		return lvl, err
	}
	if cpuAfter, err = readCPU(srv.pid()); err != nil {
		return lvl, err
	}
	lvl.Pgbench.CPU = cpuPerOp(cpuBefore, cpuAfter, lvl.Pgbench.Transactions, lvl.Pgbench.ClientCPUSeconds)
	afterPgbench, err := e.countRows(ctx, ingestSchema, ingestTables)
	if err != nil {
		return lvl, err
	}
	lvl.PgbenchRowsPerTx = rowsPer(afterGateway, afterPgbench, lvl.Pgbench.Transactions)
	return lvl, nil
}

func rowsPer(before, after map[string]int64, n int) map[string]float64 {
	out := make(map[string]float64, len(after))
	for t, v := range after {
		out[t] = float64(v-before[t]) / float64(max(n, 1))
	}
	return out
}

// loadResult is the outcome of a closed-loop load.
type loadResult struct {
	turns     int
	errors    int
	firstErr  error
	elapsed   time.Duration
	latencies []time.Duration
}

// ingestLoad runs clients closed loops of unique turns, each for d or, when
// d is 0, for perClient turns.
func ingestLoad(ctx context.Context, c *gqlClient, level, clients int, d time.Duration, perClient int) loadResult {
	return closedLoops(ctx, clients, d, perClient, func(client, seq int) (int, error) {
		in := turnInput{
			WorkspaceID: ingestWorkspace, UserID: "u" + strconv.Itoa(client), AgentID: benchAgent,
			SessionID: fmt.Sprintf("c%d-%d", level, client), Namespace: ingestNamespace, Role: "USER",
			TurnID: "t" + strconv.Itoa(seq), Content: ingestContent(level, client, seq),
		}
		return 1, c.ingest(ctx, in)
	})
}

// ingestBatchLoad runs clients closed loops of batches of unique turns (one
// session per client) for d; latencies are one per batch.
func ingestBatchLoad(ctx context.Context, c *gqlClient, clients int, d time.Duration) loadResult {
	return closedLoops(ctx, clients, d, 0, func(client, seq int) (int, error) {
		batch := make([]turnInput, ingestBatchSize)
		for i := range batch {
			n := seq*ingestBatchSize + i
			batch[i] = turnInput{
				WorkspaceID: ingestWorkspace, UserID: "u" + strconv.Itoa(client), AgentID: benchAgent,
				SessionID: fmt.Sprintf("batch-%d", client), Namespace: ingestNamespace, Role: "USER",
				TurnID: "t" + strconv.Itoa(n), Content: ingestContent(-1, client, n),
			}
		}
		return len(batch), c.ingestBatch(ctx, batch)
	})
}

// closedLoops runs clients loops of step, each for d or, when d is 0, for
// perClient steps; a step returns the turns it carried.
func closedLoops(ctx context.Context, clients int, d time.Duration, perClient int, step func(client, seq int) (int, error)) loadResult {
	var (
		mu  sync.Mutex
		out loadResult
		wg  sync.WaitGroup
	)
	started := time.Now()
	deadline := started.Add(d)
	for client := range clients {
		wg.Go(func() {
			var lat []time.Duration
			var turns, errs int
			var firstErr error
			for seq := 0; ctx.Err() == nil; seq++ {
				if (d > 0 && !time.Now().Before(deadline)) || (d == 0 && seq >= perClient) {
					break
				}
				t0 := time.Now()
				n, err := step(client, seq)
				if err != nil {
					errs++
					if firstErr == nil {
						firstErr = err
					}
					continue
				}
				lat = append(lat, time.Since(t0))
				turns += n
			}
			mu.Lock()
			defer mu.Unlock()
			out.turns += turns
			out.errors += errs
			out.latencies = append(out.latencies, lat...)
			if out.firstErr == nil {
				out.firstErr = firstErr
			}
		})
	}
	wg.Wait()
	out.elapsed = time.Since(started)
	return out
}

// ingestContent is a turn like the pgbench script's.
func ingestContent(level, client, seq int) string {
	return fmt.Sprintf("Turn %d from client %d at level %d: remember that my favourite colour is blue and that I prefer green tea over coffee in the morning.", seq, client, level)
}

func ingestRows(levels []ingestLevel) []Row {
	var rows []Row
	for _, l := range levels {
		label := fmt.Sprintf("pgbench -c %d", l.Clients)
		tput := figure("turns/s, "+clientsLabel(l.Clients), unitPerSecond, l.TurnsPerSecond, l.Pgbench.TPS, label+" tps")
		target, hasTarget := ingestTargets[l.Clients]
		if hasTarget {
			tput = tput.ratioAtLeast(target.ratio)
		}
		rows = append(rows, tput)
		for _, q := range quantiles {
			r := figure(q.name+" latency, "+clientsLabel(l.Clients), unitMs, q.get(l.Latency), q.get(l.Pgbench.Latency), label)
			if hasTarget && target.p99Ratio > 0 && q.name == "p99" {
				r = r.ratioAtMost(target.p99Ratio)
			}
			rows = append(rows, r)
		}
	}
	return rows
}

func ingestNotes(levels []ingestLevel, d time.Duration) []string {
	notes := []string{
		fmt.Sprintf("Baseline: pgbench -n -c N -j %d -T %s with a script of the %d statements (%d transactions) one ingest runs: %s. "+
			"pgbench sends them with the simple protocol (parsed and planned at every run); on PostgreSQL the gateway runs its basis read, "+
			"its batch prefetch and its save as prepared statements.",
			pgbenchThreadsMax, d.Round(time.Second), len(ingestStatements), ingestTransactions, strings.Join(ingestStatements, "; ")),
		"Gateway load: closed loops in the bench process (HTTP/1.1 keep-alive, one connection per client), unique turns, local backend only; the load generator shares the machine's cores with the server and PostgreSQL.",
	}
	for _, l := range levels {
		stmts := "n/a (no /metrics)"
		if l.StatementsPerTurn != nil {
			stmts = fmt.Sprintf("%.2f", *l.StatementsPerTurn)
		}
		notes = append(notes, fmt.Sprintf("%s: rows per turn gateway %s vs pgbench %s; SQL statements per turn (memory_gateway_db_queries_total) %s; errors %d.",
			clientsLabel(l.Clients), formatRowsPer(l.RowsPerTurn), formatRowsPer(l.PgbenchRowsPerTx), stmts, l.Errors))
		notes = append(notes, fmt.Sprintf("%s: CPU per turn, gateway run %s; pgbench run %s.", clientsLabel(l.Clients), l.CPU, l.Pgbench.CPU))
		if l.Profile != "" {
			notes = append(notes, fmt.Sprintf("%s: server CPU profile: %s", clientsLabel(l.Clients), l.Profile))
		}
	}
	return notes
}

func clientsLabel(n int) string {
	if n == 1 {
		return "1 client"
	}
	return strconv.Itoa(n) + " clients"
}

func formatRowsPer(m map[string]float64) string {
	parts := make([]string, 0, len(ingestTables))
	for _, t := range ingestTables {
		parts = append(parts, fmt.Sprintf("%s %.2f", t, m[t]))
	}
	return strings.Join(parts, ", ")
}
