// Drives every MCP tool of a live gateway with the official TypeScript MCP
// SDK client — the client most desktop and IDE agents embed, and one that
// validates structured content against each tool's output schema, errors
// included — over streamable HTTP and over `memory-gateway mcp-stdio`
// spawned by its StdioClientTransport. Each tool's success and error paths
// are called; an error must reach the caller as a tool result (isError, a
// coded text), never as the client's own protocol error. Numeric and string
// progress tokens, an unknown notification and a cancelled call must leave
// the stdio proxy serving.
//
//   node conformance/mcp-client.mjs http://127.0.0.1:8080 ./memory-gateway
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

const [base, binary] = process.argv.slice(2);
if (!base || !binary) {
  console.error("usage: node mcp-client.mjs <gateway base URL> <memory-gateway binary>");
  process.exit(2);
}

let failures = 0;
function check(ok, what, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"}    ${what}${ok || !detail ? "" : `: ${detail}`}`);
  if (!ok) failures++;
}

const text = (res) => (res.content || []).filter((c) => c.type === "text").map((c) => c.text).join("\n");

// call calls a tool and returns its result, or the error the client threw.
async function call(client, name, args, options = {}) {
  try {
    return { res: await client.callTool({ name, arguments: args, ...(options.meta ? { _meta: options.meta } : {}) }, undefined, options) };
  } catch (err) {
    return { err };
  }
}

async function succeeds(client, label, name, args, options) {
  const { res, err } = await call(client, name, args, options);
  check(!err && !res.isError, `${label}: ${name} succeeds`, err ? `${err.code} ${err.message}` : text(res));
  return res;
}

async function fails(client, label, name, args, code, field) {
  const { res, err } = await call(client, name, args);
  if (err) {
    check(false, `${label}: ${name} fails with ${code} as a tool result`, `the client threw ${err.code}: ${err.message}`);
    return;
  }
  const t = text(res);
  check(res.isError === true && t.startsWith(`${code}: `), `${label}: ${name} fails with ${code}`, t);
  if (field) check(t.startsWith(`${code}: ${field}: `), `${label}: ${name} names ${field}`, t);
  check(res.structuredContent === undefined, `${label}: ${name}'s error carries no structured content`, JSON.stringify(res.structuredContent));
}

let who;

async function exercise(client, label, session) {
  // Each transport its own user: forget_me at the end erases it.
  who = { workspaceId: "conformance", userId: `mcp-user-${label}`, agentId: "mcp-agent" };
  const { tools } = await client.listTools();
  const names = tools.map((t) => t.name);
  for (const want of ["remember", "recall", "commit_session", "give_feedback", "job_status", "list_memories", "get_memory", "forget_memory", "forget_me"]) {
    check(names.includes(want), `${label}: lists ${want}`);
  }

  const turn = (content) => ({ ...who, sessionId: session, namespace: "team", turns: [{ role: "USER", content }] });
  await succeeds(client, label, "remember", turn("I keep bees on the roof"));
  await fails(client, label, "remember", { ...who, sessionId: session, namespace: "team", turns: [{ role: "boss", content: "x" }] }, "BAD_USER_INPUT", "turns[0].role");
  await fails(client, label, "remember", { ...turn("x"), everything: true }, "BAD_USER_INPUT", "everything");

  // In dev mode a call names nothing but what it is about.
  await succeeds(client, label, "remember", { sessionId: `${session}-defaults`, turns: [{ role: "ASSISTANT", content: "noted" }] });
  await fails(client, label, "commit_session", { ...who, sessionId: `${session}-never-written`, namespace: "team" }, "BAD_USER_INPUT", "sessionId");

  const recalled = await succeeds(client, label, "recall", { ...who, query: "bees roof", namespace: "team" });
  check(recalled && text(recalled).includes("bees"), `${label}: recall finds the turn`, recalled && text(recalled));
  await fails(client, label, "recall", { ...who, query: "bees", namespace: "team", limit: 500 }, "BAD_USER_INPUT", "limit");

  // Progress: the SDK's own numeric token (its request id), then a string.
  const progress = [];
  const committed = await succeeds(client, label, "commit_session", { ...who, sessionId: session, namespace: "team", wait: true },
    { onprogress: (p) => progress.push(p.message || ""), resetTimeoutOnProgress: true });
  check(progress.length > 0, `${label}: commit_session reports progress on a numeric token`);
  // Every notification reaches the client before the answer, the last
  // (the state the answer reports) included.
  const finalStatus = committed?.structuredContent?.status;
  check(!!finalStatus && (progress.at(-1) || "").endsWith(` is ${finalStatus}`),
    `${label}: the last progress before the answer is the job's final state`, `${JSON.stringify(progress)} then ${finalStatus}`);
  let jobId = committed?.structuredContent?.jobId;
  const stringToken = await succeeds(client, label, "commit_session",
    { ...who, sessionId: session, namespace: "team", wait: true, idempotencyKey: `${session}-again` }, { meta: { progressToken: `${label}-token` } });
  check(!!stringToken, `${label}: a string progress token is served`);
  await fails(client, label, "commit_session", { ...who, sessionId: session, namespace: "team", wait: true, waitSeconds: 500 }, "BAD_USER_INPUT", "waitSeconds");

  const refId = recalled?.structuredContent?.items?.find((it) => it.refId)?.refId;
  check(!!refId, `${label}: recall names a ref`);
  await succeeds(client, label, "give_feedback", { ...who, refId, type: "HELPFUL" });
  await fails(client, label, "give_feedback", { ...who, refId, type: "LOVE_IT" }, "BAD_USER_INPUT", "type");

  await succeeds(client, label, "job_status", { jobId });
  await fails(client, label, "job_status", { jobId: "gwc_000000000000000000000000" }, "NOT_FOUND");

  const listed = await succeeds(client, label, "list_memories", { ...who, first: 5 });
  const memory = listed?.structuredContent?.memories?.find((m) => m.text);
  check(!!memory && memory.text.length > 0, `${label}: list_memories gives the text`, listed && text(listed));
  await fails(client, label, "list_memories", { ...who, first: 500 }, "BAD_USER_INPUT", "first");
  const got = await succeeds(client, label, "get_memory", { refId: memory?.refId });
  check(got?.structuredContent?.text === memory?.text, `${label}: get_memory reads the same text`);
  await fails(client, label, "get_memory", { refId: "ref_000000000000000000000000" }, "NOT_FOUND", "refId");
  const forgotten = await succeeds(client, label, "forget_memory", { refId: memory?.refId, agentId: who.agentId, reason: "conformance run" });
  check(["DELETING", "AWAITING_REVIEW"].includes(forgotten?.structuredContent?.mode), `${label}: forget_memory says what the policy does`);
  await fails(client, label, "forget_memory", {}, "BAD_USER_INPUT", "refId");

  await fails(client, label, "forget_me", { ...who }, "BAD_USER_INPUT", "reason");
  const forgot = await succeeds(client, label, "forget_me", { ...who, reason: "conformance run", idempotencyKey: `${label}-forget` });
  check(!!forgot?.structuredContent?.jobId, `${label}: forget_me returns its job`);
}

// Over streamable HTTP.
const http = new Client({ name: "conformance-http", version: "1" });
await http.connect(new StreamableHTTPClientTransport(new URL(`${base}/mcp`)));
await exercise(http, "http", `mcp-http-${Date.now()}`);
await http.close();

// Over mcp-stdio, spawned as a desktop client spawns it.
const transport = new StdioClientTransport({ command: binary, args: ["mcp-stdio", "--url", `${base}/mcp`], stderr: "inherit" });
const stdio = new Client({ name: "conformance-stdio", version: "1" });
await stdio.connect(transport);
const stdioSession = `mcp-stdio-${Date.now()}`;
await exercise(stdio, "stdio", stdioSession);

// What a client may send that no tool asked for leaves the proxy serving.
await transport.send({ jsonrpc: "2.0", method: "notifications/something_new", params: { x: 1 } });
const aborted = new AbortController();
const cancelled = call(stdio, "commit_session", { ...who, sessionId: stdioSession, namespace: "team", wait: true, waitSeconds: 5, idempotencyKey: "cancelled" },
  { signal: aborted.signal });
aborted.abort();
const { err: cancelErr } = await cancelled;
check(!!cancelErr, "stdio: a cancelled call ends");
await succeeds(stdio, "stdio", "recall", { ...who, query: "bees", namespace: "team" });
await stdio.close();

if (failures > 0) {
  console.error(`${failures} MCP conformance check(s) failed`);
  process.exit(1);
}
console.log("MCP: every tool's success and error paths read by the TypeScript SDK client, over HTTP and stdio");
