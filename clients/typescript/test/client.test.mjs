// The client against a live gateway built from this checkout: every
// operation, typed errors, retries for retryable errors only, and waiting on
// a job over graphql-ws.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { once } from 'node:events';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import WebSocket from 'ws';

import { MemoryGatewayClient, MemoryGatewayError, VERSION, SERVER_VERSIONS, serverVersionSupported } from '../dist/index.js';
import { startGateway, repoRoot } from './gateway.mjs';

const run = promisify(execFile);

let gateway;
let client;
const scope = { workspaceId: 'acme', userId: 'alice', agentId: 'helper', namespace: 'support/tier1' };
const turn = (sessionId, turnId, content, role = 'USER') => ({ ...scope, sessionId, turnId, role, content });

before(async () => {
  gateway = await startGateway();
  client = new MemoryGatewayClient({ url: gateway.url, apiKey: gateway.apiKey, webSocketImpl: WebSocket, retry: { baseDelayMs: 5 } });
});

after(async () => {
  await client?.close();
  await gateway?.stop();
});

/**
 * A loopback proxy in front of the gateway: each request is first offered to
 * inject (which may answer it), else forwarded. seen counts the requests.
 */
async function proxy(inject) {
  const state = { seen: 0 };
  const server = createServer(async (req, res) => {
    state.seen++;
    const chunks = [];
    for await (const c of req) chunks.push(c);
    const body = Buffer.concat(chunks);
    const injected = inject(state.seen);
    if (injected) {
      res.writeHead(injected.status ?? 200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(injected.body));
      return;
    }
    const upstream = await fetch(gateway.url, { method: 'POST', headers: { ...req.headers, host: undefined }, body });
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address();
  return { url: `http://127.0.0.1:${port}/graphql`, state, close: () => new Promise((r) => server.close(r)) };
}

test('version constants name the servers this client works with', () => {
  assert.match(VERSION, /^\d+\.\d+\.\d+$/);
  assert.equal(SERVER_VERSIONS, '>=0.1.0 <0.2.0');
  for (const [v, ok] of [['dev', true], ['dev+abc123', true], ['v0.1.0', true], ['0.1.7', true], ['0.2.0', false], ['0.0.9', false], ['1.0.0', false], ['garbage', false]]) {
    assert.equal(serverVersionSupported(v), ok, v);
  }
});

test('ingest one turn, replay it, and read its refs graph', async () => {
  const first = await client.ingestTurn(turn('s-one', 't1', 'My favourite colour is blue'));
  assert.equal(first.status, 'SUCCESS');
  assert.equal(first.replayed, false);
  assert.ok(first.refs.length > 0);
  assert.match(first.gatewayId, /^gw_/);

  const again = await client.ingestTurn(turn('s-one', 't1', 'My favourite colour is blue'));
  assert.equal(again.replayed, true);
  assert.equal(again.gatewayId, first.gatewayId);

  const ref = await client.memoryRef(first.refs[0].id);
  assert.equal(ref.id, first.refs[0].id);
  assert.equal(ref.supersededBy, null);
  assert.deepEqual(ref.feedback.edges, []);

  const page = await client.memoryRefs({ filter: { workspaceId: 'acme', sessionId: 's-one' }, first: 10 });
  assert.ok(page.totalCount >= 1);
  assert.ok(page.edges.some((e) => e.node.id === first.refs[0].id));
});

test('a batch answers each turn, one bad turn failing alone with its field named', async () => {
  const results = await client.ingestTurns([
    turn('s-batch', 't1', 'I live in Lisbon'),
    turn('s-batch', 't2', ''),
    turn('s-batch', 't3', 'I work nights', 'USER'),
  ]);
  assert.equal(results.length, 3);
  assert.equal(results[0].turn.status, 'SUCCESS');
  assert.equal(results[0].error, null);
  assert.ok(results[1].error instanceof MemoryGatewayError);
  assert.equal(results[1].error.code, 'BAD_USER_INPUT');
  assert.equal(results[1].error.field, 'input.turns[1].content');
  assert.equal(results[2].turn.status, 'SUCCESS');
});

test('retrieveContext finds an ingested turn', async () => {
  await client.ingestTurn(turn('s-recall', 't1', 'The launch code word is pineapple'));
  const ctx = await client.retrieveContext({ ...scope, query: 'pineapple launch code' });
  assert.ok(ctx.items.some((i) => i.text.includes('pineapple')), JSON.stringify(ctx.items));
  assert.ok(ctx.backends.length > 0);
});

test('commitSession, then waitForJob follows the job over graphql-ws to SUCCESS', async () => {
  await client.ingestTurn(turn('s-commit', 't1', 'Remember that I prefer tea'));
  const { created, job } = await client.commitSession({ ...scope, sessionId: 's-commit' });
  assert.equal(created, true);
  assert.equal(job.kind, 'COMMIT');
  const seen = [];
  const done = await client.waitForJob(job.id, { timeoutMs: 60_000, onUpdate: (j) => seen.push(j.status) });
  assert.equal(done.status, 'SUCCESS');
  assert.equal(done.id, job.id);
  assert.equal(seen.at(-1), 'SUCCESS');
  assert.equal((await client.jobStatus(job.id)).status, 'SUCCESS');
  assert.equal(await client.jobStatus('gwc_doesnotexist'), null);
  // A finished job answers at once: the subscription starts with its state.
  assert.equal((await client.waitForJob(job.id, { timeoutMs: 10_000 })).status, 'SUCCESS');
});

test('feedback: a correction is reviewed, routed, and supersedes the ref', async () => {
  const ingested = await client.ingestTurn(turn('s-fb', 't1', 'My dog is called Rex'));
  const ref = ingested.refs.find((r) => r.backend === 'LOCAL');
  assert.ok(ref, JSON.stringify(ingested.refs));
  const { created, feedback } = await client.recordFeedback({
    ...scope, memoryRefId: ref.id, feedbackType: 'CORRECTION', correction: 'My dog is called Max', sourceEventId: 'fb-ts-1',
  });
  assert.equal(created, true);
  assert.equal(feedback.status, 'RECEIVED');
  const accepted = await client.reviewFeedback({ id: feedback.id, decision: 'ACCEPT', reason: 'confirmed' });
  assert.equal(accepted.status, 'ACCEPTED');
  assert.ok(accepted.job, 'an accepted correction is routed by a job');
  const routed = await client.waitForJob(accepted.job.id, { timeoutMs: 60_000 });
  assert.equal(routed.status, 'SUCCESS');
  const graph = await client.memoryRef(ref.id);
  assert.equal(graph.status, 'SUPERSEDED');
  assert.ok(graph.supersededBy);
  assert.equal(graph.feedback.edges[0].node.status, 'APPLIED');
});

test('erasure: the request\'s job is followed to its end', async () => {
  await client.ingestTurn({ ...turn('s-erase', 't1', 'Bob likes chess'), userId: 'bob' });
  const { request } = await client.eraseSubject({ workspaceId: 'acme', userId: 'bob', reason: 'user asked' });
  assert.equal(request.job.kind, 'ERASURE');
  const job = await client.waitForJob(request.job.id, { timeoutMs: 60_000 });
  assert.equal(job.status, 'SUCCESS');
  const done = await client.erasureRequest(request.id);
  assert.equal(done.status, 'COMPLETED');
});

test('bad input is a MemoryGatewayError naming the field, and is not retried', async () => {
  const p = await proxy(() => null);
  try {
    const c = new MemoryGatewayClient({ url: p.url, apiKey: gateway.apiKey, retry: { baseDelayMs: 1 } });
    const err = await c.ingestTurn(turn('s-bad', 't1', 'hello', 'NARRATOR')).catch((e) => e);
    assert.ok(err instanceof MemoryGatewayError, String(err));
    assert.equal(err.code, 'BAD_USER_INPUT');
    assert.equal(err.field, 'input.role');
    assert.equal(err.retryable, false);
    assert.equal(p.state.seen, 1);
  } finally {
    await p.close();
  }
});

test('a retryable error is retried with backoff; a non-retryable one is not', async () => {
  const unavailable = { body: { errors: [{ message: 'the service is unavailable for a moment: try again', extensions: { code: 'UNAVAILABLE', retryable: true } }] } };
  const retried = await proxy((n) => (n === 1 ? unavailable : null));
  try {
    const c = new MemoryGatewayClient({ url: retried.url, apiKey: gateway.apiKey, retry: { baseDelayMs: 1 } });
    const res = await c.ingestTurn(turn('s-retry', 't1', 'retried once'));
    assert.equal(res.status, 'SUCCESS');
    assert.equal(retried.state.seen, 2);
  } finally {
    await retried.close();
  }

  const rateLimited = { body: { errors: [{ message: 'slow down', extensions: { code: 'RATE_LIMITED', retryAfterMs: 20 } }] } };
  const limited = await proxy((n) => (n === 1 ? rateLimited : null));
  try {
    const c = new MemoryGatewayClient({ url: limited.url, apiKey: gateway.apiKey, retry: { baseDelayMs: 1 } });
    assert.equal((await c.ingestTurn(turn('s-retry', 't2', 'after a rate limit'))).status, 'SUCCESS');
    assert.equal(limited.state.seen, 2);
  } finally {
    await limited.close();
  }

  const forbidden = { body: { errors: [{ message: 'forbidden', extensions: { code: 'FORBIDDEN' } }] } };
  const refused = await proxy((n) => (n === 1 ? forbidden : null));
  try {
    const c = new MemoryGatewayClient({ url: refused.url, apiKey: gateway.apiKey, retry: { baseDelayMs: 1 } });
    const err = await c.ingestTurn(turn('s-retry', 't3', 'refused')).catch((e) => e);
    assert.ok(err instanceof MemoryGatewayError);
    assert.equal(err.code, 'FORBIDDEN');
    assert.equal(err.retryable, false);
    assert.equal(refused.state.seen, 1);
  } finally {
    await refused.close();
  }

  const always = await proxy(() => unavailable);
  try {
    const c = new MemoryGatewayClient({ url: always.url, apiKey: gateway.apiKey, retry: { baseDelayMs: 1, maxAttempts: 3 } });
    const err = await c.retrieveContext({ ...scope, query: 'anything' }).catch((e) => e);
    assert.equal(err.code, 'UNAVAILABLE');
    assert.equal(err.retryable, true);
    assert.equal(always.state.seen, 3, 'maxAttempts bounds the attempts');
  } finally {
    await always.close();
  }
});

test('without the key: UNAUTHENTICATED over HTTP and over the websocket', async () => {
  const c = new MemoryGatewayClient({ url: gateway.url, webSocketImpl: WebSocket, retry: { baseDelayMs: 1 } });
  try {
    const err = await c.retrieveContext({ ...scope, query: 'x' }).catch((e) => e);
    assert.equal(err.code, 'UNAUTHENTICATED');
    assert.equal(err.httpStatus, 401);
    const wsErr = await c.waitForJob('gwc_x', { timeoutMs: 20_000 }).catch((e) => e);
    assert.ok(wsErr instanceof MemoryGatewayError, String(wsErr));
    assert.equal(wsErr.code, 'UNAUTHENTICATED');
  } finally {
    await c.close();
  }
});

test('the example agent loop runs against the gateway', async () => {
  const dir = join(repoRoot, 'examples', 'typescript');
  await run('npm', ['ci', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir });
  const { stdout } = await run('npm', ['start', '--silent'], {
    cwd: dir,
    env: { ...process.env, MEMORY_GATEWAY_URL: gateway.url, MEMORY_GATEWAY_API_KEY: gateway.apiKey },
  });
  assert.match(stdout, /agent: From what you told me: My favourite colour is blue\./);
  assert.match(stdout, /committed: SUCCESS/);
});
