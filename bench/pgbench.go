package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// pgbenchThreadsMax is pgbench's -j: one thread per core of this machine's
// two, as the brief of the suite fixes.
const pgbenchThreadsMax = 2

// ingestStatements is what the gateway runs on PostgreSQL for one new turn
// with only the local backend (gateway/ingest.go, persistence/store.go,
// backends/local), as bun formats it (simple query protocol, literals inline):
//
//  1. RefsByGatewayID: SELECT every column of memory_refs by gateway id.
//  2. ClaimSession of the session the client keeps writing to: nothing (the
//     store remembers confirmed claims; the first turn of a session in a
//     process reads, or writes, its owner).
//  3. local backend IngestTurn: INSERT INTO local_memories … ON CONFLICT (id)
//     DO NOTHING RETURNING committed_by (its own autocommit transaction).
//  4. SaveIngest, one transaction: BEGIN; the basis check SELECT DISTINCT
//     user and content hash of the refs of the gateway id; the ref upsert
//     (INSERT … SELECT FROM unnest(arrays) ON CONFLICT (id) DO UPDATE … WHERE);
//     the audit entry INSERT … ON CONFLICT (id) DO NOTHING RETURNING job_id;
//     COMMIT.
//
// Seven statements, three transactions, one row in each of local_memories
// (GIN full-text, user and session indexes), memory_refs (primary key,
// gateway, workspace, session, native id and native URI indexes) and
// audit_entries (primary key, workspace, action, session, target and gateway
// indexes). The script below runs the same statements with the same shapes;
// ids are random (pgbench random()) and as long as the gateway's, so index
// insertions land at random places as sha256-derived ids do; timestamps are
// now() instead of literals.
var ingestStatements = []string{
	"SELECT memory_refs by gateway_id ORDER BY id",
	"INSERT local_memories ON CONFLICT (id) DO NOTHING RETURNING committed_by",
	"BEGIN",
	"SELECT DISTINCT user_id, content_hash of memory_refs by gateway_id",
	"INSERT memory_refs SELECT FROM unnest(…) ON CONFLICT (id) DO UPDATE … WHERE …",
	"INSERT audit_entries ON CONFLICT (id) DO NOTHING RETURNING job_id",
	"COMMIT",
}

// ingestTransactions is the number of transactions of one ingest.
const ingestTransactions = 3

// ingestScript is the pgbench script of one turn. :g is a random 19-digit
// number; "-a1b2" pads ids to the gateway's lengths (gw_ + 24 characters,
// 64-character content hashes). :level and :client_id name the session as
// the gateway load does.
const ingestScript = `\set g random(1000000000000000000, 9223372036854775806)
SELECT "r"."id", "r"."gateway_id", "r"."provenance_id", "r"."workspace_id", "r"."user_id", "r"."agent_id", "r"."session_id", "r"."turn_id", "r"."namespace", "r"."backend", "r"."ref_type", "r"."status", "r"."native_id", "r"."native_uri", "r"."idempotency_key", "r"."source_type", "r"."source_event_id", "r"."content_hash", "r"."error_message", "r"."job_id", "r"."outbox_event_id", "r"."metadata", "r"."created_at", "r"."updated_at" FROM "memory_refs" AS "r" WHERE (r.gateway_id = 'gw_:g-a1b2') ORDER BY r.id;
INSERT INTO "local_memories" AS "m" ("id", "gateway_id", "workspace_id", "user_id", "agent_id", "session_id", "namespace", "turn_id", "role", "content", "content_hash", "state", "committed_by", "created_at", "updated_at") VALUES ('lm_:g-a1b2', 'gw_:g-a1b2', 'bench', 'u:client_id', 'agent', 'p:level-:client_id', 'bench/ingest', 't:g', 'user', 'Turn :g from client :client_id at level :level: remember that my favourite colour is blue and that I prefer green tea over coffee in the morning.', ':g-:g-:g-a1b2', 'active', DEFAULT, now(), now()) ON CONFLICT (id) DO NOTHING RETURNING "committed_by";
BEGIN;
SELECT DISTINCT r.user_id, r.content_hash FROM "memory_refs" AS "r" WHERE (r.gateway_id = 'gw_:g-a1b2');
INSERT INTO memory_refs AS r (id, gateway_id, provenance_id, workspace_id, user_id, agent_id, session_id, turn_id, namespace, backend, ref_type, status, native_id, native_uri, idempotency_key, source_type, source_event_id, content_hash, error_message, job_id, outbox_event_id, metadata, created_at, updated_at) SELECT u.id, u.gateway_id, u.provenance_id, u.workspace_id, u.user_id, u.agent_id, u.session_id, u.turn_id, u.namespace, u.backend, u.ref_type, u.status, u.native_id, u.native_uri, u.idempotency_key, u.source_type, u.source_event_id, u.content_hash, u.error_message, u.job_id, u.outbox_event_id, u.metadata::jsonb, u.created_at, u.updated_at FROM unnest('{"ref_:g-a1b2"}'::text[], '{"gw_:g-a1b2"}'::text[], '{"prov_:g-a1b2"}'::text[], '{"bench"}'::text[], '{"u:client_id"}'::text[], '{"agent"}'::text[], '{"p:level-:client_id"}'::text[], '{"t:g"}'::text[], '{"bench/ingest"}'::text[], '{"local"}'::text[], '{"message_memory"}'::text[], '{"success"}'::text[], '{"lm_:g-a1b2"}'::text[], '{"local://bench/users/u:client_id/sessions/p:level-:client_id/turns/t:g"}'::text[], '{NULL}'::text[], '{NULL}'::text[], '{NULL}'::text[], '{":g-:g-:g-a1b2"}'::text[], '{NULL}'::text[], '{NULL}'::text[], '{NULL}'::text[], '{"{\"backend_response\":{\"id\":\"lm_:g-a1b2\",\"latency_ms\":1,\"status\":\"stored\"},\"content_hash\":\":g-:g-:g-a1b2\",\"idempotency_basis\":\"turn:bench:p:level-:client_id:t:g\",\"role\":\"user\",\"schema_version\":\"memory-gateway.control-ref.v2\"}"}'::text[], ARRAY[now()], ARRAY[now()]) AS u(id, gateway_id, provenance_id, workspace_id, user_id, agent_id, session_id, turn_id, namespace, backend, ref_type, status, native_id, native_uri, idempotency_key, source_type, source_event_id, content_hash, error_message, job_id, outbox_event_id, metadata, created_at, updated_at) ON CONFLICT (id) DO UPDATE SET provenance_id = EXCLUDED.provenance_id, status = EXCLUDED.status, native_id = EXCLUDED.native_id, native_uri = EXCLUDED.native_uri, error_message = EXCLUDED.error_message, content_hash = EXCLUDED.content_hash, job_id = EXCLUDED.job_id, outbox_event_id = EXCLUDED.outbox_event_id, metadata = EXCLUDED.metadata, updated_at = EXCLUDED.updated_at WHERE (r.status <> 'success' OR EXCLUDED.status = 'success') AND (r.content_hash IS NULL OR EXCLUDED.content_hash IS NULL OR r.content_hash = EXCLUDED.content_hash);
INSERT INTO "audit_entries" AS "a" ("id", "workspace_id", "action", "actor_user_id", "actor_agent_id", "principal", "target_type", "target_id", "namespace", "session_id", "job_id", "gateway_id", "metadata", "created_at") VALUES ('audit_:g-a1b2', 'bench', 'ingest_conversation_turn', 'u:client_id', 'agent', 'dev', 'conversation_turn', 't:g', 'bench/ingest', 'p:level-:client_id', DEFAULT, 'gw_:g-a1b2', '{"backends":{"local":"success"},"content_hash":":g-:g-:g-a1b2","gateway_id":"gw_:g-a1b2","idempotency_basis":"turn:bench:p:level-:client_id:t:g","provenance_id":"prov_:g-a1b2","status":"success"}', now()) ON CONFLICT (id) DO NOTHING RETURNING "job_id";
COMMIT;
`

// pgbenchRun is one pgbench invocation.
type pgbenchRun struct {
	binary   string
	url      string
	schema   string
	script   string
	clients  int
	duration time.Duration
	vars     map[string]string
	logDir   string
}

// pgbenchResult is what pgbench reported.
type pgbenchResult struct {
	TPS float64 `json:"tps"`
	// ClientCPUSeconds is pgbench's own user + system time.
	ClientCPUSeconds float64         `json:"clientCpuSeconds"`
	CPU              CPUPerOp        `json:"cpuPerTransaction"`
	Transactions     int             `json:"transactions"`
	Failed           int             `json:"failed"`
	Latency          Latency         `json:"latency"`
	latencies        []time.Duration // from the per-transaction log
}

var (
	tpsPattern    = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \(without initial connection time\)`)
	txPattern     = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
	failedPattern = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

// run executes pgbench (-n: no vacuum of its own tables; -l: one log line per
// transaction, for latency percentiles).
func (p pgbenchRun) run(ctx context.Context) (pgbenchResult, error) {
	prefix := filepath.Join(p.logDir, "pgbench")
	if err := os.MkdirAll(p.logDir, 0o755); err != nil {
		return pgbenchResult{}, fmt.Errorf("error creating %s: %w", p.logDir, err)
	}
	args := []string{
		"-n", "-c", strconv.Itoa(p.clients), "-j", strconv.Itoa(min(pgbenchThreadsMax, p.clients)),
		"-T", strconv.Itoa(max(1, int(p.duration.Round(time.Second).Seconds()))),
		"-f", p.script, "-l", "--log-prefix", prefix,
	}
	for k, v := range p.vars {
		args = append(args, "-D", k+"="+v)
	}
	args = append(args, p.url)
	cmd := exec.CommandContext(ctx, p.binary, args...)
	cmd.Env = append(os.Environ(), "PGOPTIONS=-c search_path="+p.schema)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return pgbenchResult{}, fmt.Errorf("pgbench failed: %w\n%s%s", err, stdout.String(), stderr.String())
	}
	out := stdout.String()
	var res pgbenchResult
	res.ClientCPUSeconds = cmd.ProcessState.UserTime().Seconds() + cmd.ProcessState.SystemTime().Seconds()
	var err error
	if res.TPS, err = matchFloat(tpsPattern, out); err != nil {
		return res, fmt.Errorf("pgbench output without tps: %w\n%s", err, out)
	}
	tx, err := matchFloat(txPattern, out)
	if err != nil {
		return res, fmt.Errorf("pgbench output without a transaction count: %w\n%s", err, out)
	}
	res.Transactions = int(tx)
	if failed, err := matchFloat(failedPattern, out); err == nil {
		res.Failed = int(failed)
	}
	if res.latencies, err = readPgbenchLogs(prefix); err != nil {
		return res, err
	}
	res.Latency = summarize(res.latencies)
	return res, nil
}

func matchFloat(re *regexp.Regexp, s string) (float64, error) {
	m := re.FindStringSubmatch(s)
	if m == nil {
		return 0, fmt.Errorf("no match for %s", re)
	}
	return strconv.ParseFloat(m[1], 64)
}

// readPgbenchLogs reads the per-transaction logs (one file per thread:
// "client transaction latency_us script epoch us") and removes them.
func readPgbenchLogs(prefix string) ([]time.Duration, error) {
	files, err := filepath.Glob(prefix + ".*")
	if err != nil || len(files) == 0 {
		return nil, fmt.Errorf("no pgbench transaction logs at %s.*", prefix)
	}
	var out []time.Duration
	for _, path := range files {
		lat, err := readPgbenchLog(path)
		if err != nil {
			return nil, err
		}
		out = append(out, lat...)
		_ = os.Remove(path)
	}
	return out, nil
}

func readPgbenchLog(path string) ([]time.Duration, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("error opening %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	var out []time.Duration
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 3 {
			continue
		}
		us, err := strconv.ParseInt(fields[2], 10, 64)
		if err != nil {
			continue // "skipped" or "failed" transactions
		}
		out = append(out, time.Duration(us)*time.Microsecond)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("error reading %s: %w", path, err)
	}
	return out, nil
}
