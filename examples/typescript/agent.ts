// An agent loop with Memory Gateway: remember each turn, recall before
// answering, commit the session at the end and follow its job to the end.
//
//   go run .                                  # the gateway, in dev mode (no keys)
//   cd examples/typescript && npm install && npm start
//
// MEMORY_GATEWAY_URL (default http://127.0.0.1:8080/graphql) and
// MEMORY_GATEWAY_API_KEY (none in dev mode) say where and as whom.
import { MemoryGatewayClient, MemoryGatewayError } from '@memory-gateway/client';
import WebSocket from 'ws';

const url = process.env.MEMORY_GATEWAY_URL ?? 'http://127.0.0.1:8080/graphql';
const scope = { workspaceId: 'acme', userId: 'alice', agentId: 'helper', namespace: 'support/tier1' };
const sessionId = `example-${Date.now()}`;

// Node 22+ has a global WebSocket; on Node 20 pass ws's.
const memory = new MemoryGatewayClient({ url, apiKey: process.env.MEMORY_GATEWAY_API_KEY, webSocketImpl: WebSocket });

// A stand-in for the model: it answers from what memory recalled.
function answer(question: string, recalled: string[]): string {
  return recalled.length > 0 ? `From what you told me: ${recalled[0]}` : `I don't know yet: ${question}`;
}

const userTurns = ['My favourite colour is blue.', 'I live in Lisbon.', 'What is my favourite colour?'];

try {
  let turn = 0;
  for (const said of userTurns) {
    // Recall before answering, then remember both sides of the exchange.
    const context = await memory.retrieveContext({ ...scope, sessionId, query: said, limit: 3 });
    const reply = answer(said, context.items.map((i) => i.text));
    await memory.ingestTurns([
      { ...scope, sessionId, turnId: `t${++turn}`, role: 'USER', content: said },
      { ...scope, sessionId, turnId: `t${++turn}`, role: 'ASSISTANT', content: reply },
    ]);
    console.log(`user: ${said}\nagent: ${reply}`);
  }

  // Commit at the end, and follow the job over the websocket until it ends.
  const { job } = await memory.commitSession({ ...scope, sessionId });
  const done = await memory.waitForJob(job.id, { onUpdate: (j) => console.log(`job ${j.id}: ${j.status}`) });
  console.log(`committed: ${done.status}`);
  if (done.status !== 'SUCCESS') process.exitCode = 1;
} catch (err) {
  if (err instanceof MemoryGatewayError) console.error(`memory gateway: ${err.code}${err.field ? ` (${err.field})` : ''}: ${err.message}`);
  else console.error(err);
  process.exitCode = 1;
} finally {
  await memory.close();
}
