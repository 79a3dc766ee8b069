// Drives a live gateway with the reference graphql-transport-ws client
// (graphql-ws): a subscription receives the job of a commit made over HTTP,
// an invalid subscription argument is a coded error on that subscription
// alone, and the client's own completion ends the stream cleanly.
// Usage: node graphql-ws-client.mjs http://127.0.0.1:8080/graphql
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const url = process.argv[2];
if (!url) {
  console.error('usage: node graphql-ws-client.mjs <url>');
  process.exit(2);
}
const wsURL = url.replace(/^http/, 'ws');
const deadline = (ms, what) =>
  new Promise((_, reject) => setTimeout(() => reject(new Error(`timed out: ${what}`)), ms).unref());

let onClosed;
const closed = new Promise((resolve) => { onClosed = resolve; });
const client = createClient({
  url: wsURL,
  webSocketImpl: WebSocket,
  retryAttempts: 0,
  lazy: false,
  on: { closed: (event) => onClosed(event.code) },
});

async function commit(sessionId) {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'application/graphql-response+json' },
    body: JSON.stringify({
      query: `mutation($s: ID!) { commitSession(input: {workspaceId: "acme", userId: "alice", agentId: "helper", sessionId: $s, namespace: "support"}) { job { id } } }`,
      variables: { s: sessionId },
    }),
  });
  const body = await res.json();
  if (!res.ok || body.errors) throw new Error(`commitSession failed: ${res.status} ${JSON.stringify(body)}`);
  return body.data.commitSession.job.id;
}

// 1. A subscription receives the job of a commit. The protocol has no
// "subscribed" acknowledgement, so commits repeat (each a new session) until
// one is seen; every committed id is remembered.
async function receivesCommittedJob() {
  const committed = new Set();
  const seen = new Promise((resolve, reject) => {
    const dispose = client.subscribe(
      { query: 'subscription { commitJobsUpdated(workspaceId: "acme") { id status } }' },
      {
        next: (msg) => {
          if (msg.errors) return reject(new Error(`errors on the stream: ${JSON.stringify(msg.errors)}`));
          const id = msg.data.commitJobsUpdated.id;
          if (committed.has(id)) {
            dispose();
            resolve(id);
          }
        },
        error: (err) => reject(new Error(`subscription failed: ${JSON.stringify(err)}`)),
        complete: () => {},
      },
    );
  });
  let stop = false;
  const committing = (async () => {
    for (let i = 0; !stop && i < 40; i++) {
      committed.add(await commit(`graphql-ws-client-${Date.now()}-${i}`));
      await Promise.race([seen, new Promise((r) => setTimeout(r, 250))]).catch(() => {});
    }
  })();
  try {
    const id = await Promise.race([seen, deadline(20000, 'no job update reached the subscription')]);
    console.log(`ok      a subscription received the job of a commit (${id})`);
  } finally {
    stop = true;
    await committing;
  }
}

// 2. An invalid argument (a 900 KB workspace id) is a coded error for that
// subscription; the connection stays usable.
async function invalidArgumentIsCoded() {
  const result = new Promise((resolve, reject) => {
    client.subscribe(
      {
        query: 'subscription($w: ID!) { commitJobsUpdated(workspaceId: $w) { id } }',
        variables: { w: 'w'.repeat(900000) },
      },
      {
        next: () => reject(new Error('an invalid argument produced data')),
        error: (errs) => resolve(errs),
        complete: () => reject(new Error('an invalid argument completed without an error')),
      },
    );
  });
  const errs = await Promise.race([result, deadline(10000, 'no error for an invalid argument')]);
  const list = Array.isArray(errs) ? errs : [errs];
  const code = list[0]?.extensions?.code;
  if (code !== 'BAD_USER_INPUT') throw new Error(`want BAD_USER_INPUT, got ${JSON.stringify(list).slice(0, 500)}`);
  if (JSON.stringify(list).length > 2000) throw new Error('the argument was echoed back');
  console.log('ok      an invalid subscription argument is BAD_USER_INPUT and not echoed');
}

try {
  await receivesCommittedJob();
  await invalidArgumentIsCoded();
  await receivesCommittedJob(); // the connection outlived the refusal
  await client.dispose();
  const closeCode = await Promise.race([closed, deadline(10000, 'the connection did not close')]);
  if (closeCode !== 1000) throw new Error(`want a normal closure (1000), got ${closeCode}`);
  console.log('ok      the client closed the connection normally');
  console.log('graphql-ws client: every check passes');
  process.exit(0);
} catch (err) {
  console.log(`FAIL    ${err.message}`);
  process.exit(1);
}
