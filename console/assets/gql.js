// The console's only way to the gateway: the public GraphQL API at
// /graphql (queries and mutations over HTTP, subscriptions over
// graphql-transport-ws). The API key lives in sessionStorage and is sent
// as a bearer header (over the websocket, in connection_init).

const KEY = "memory-gateway.console.key";

export function apiKey() {
  return sessionStorage.getItem(KEY) || "";
}

export function setAPIKey(key) {
  if (key) sessionStorage.setItem(KEY, key);
  else sessionStorage.removeItem(KEY);
  closeSocket();
}

export class GraphQLError extends Error {
  constructor(errors) {
    super(errors.map((e) => e.message).join("; "));
    this.errors = errors;
    this.code = errors[0]?.extensions?.code || "ERROR";
  }
}

// query runs an operation and returns its data; errors throw GraphQLError.
export async function query(document, variables = {}) {
  const headers = { "Content-Type": "application/json", Accept: "application/graphql-response+json" };
  const key = apiKey();
  if (key) headers.Authorization = "Bearer " + key;
  const resp = await fetch("/graphql", {
    method: "POST",
    headers,
    body: JSON.stringify({ query: document, variables }),
    credentials: "omit",
    cache: "no-store",
  });
  let body;
  try {
    body = await resp.json();
  } catch {
    throw new GraphQLError([{ message: `the gateway answered ${resp.status}`, extensions: { code: "INTERNAL" } }]);
  }
  if (body.errors?.length) throw new GraphQLError(body.errors);
  return body.data;
}

// One websocket carries every subscription of the page.
let socket = null;
let ready = null;
let nextID = 1;
const sinks = new Map(); // id → {document, variables, onData, onError}

function closeSocket() {
  if (socket) socket.close(1000, "key changed");
  socket = null;
  ready = null;
}

function openSocket() {
  if (ready) return ready;
  const url = (location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/graphql";
  const ws = new WebSocket(url, "graphql-transport-ws");
  socket = ws;
  ready = new Promise((resolve, reject) => {
    ws.onopen = () => {
      const key = apiKey();
      ws.send(JSON.stringify({ type: "connection_init", payload: key ? { Authorization: "Bearer " + key } : {} }));
    };
    ws.onmessage = (ev) => {
      const msg = JSON.parse(ev.data);
      switch (msg.type) {
        case "connection_ack":
          resolve(ws);
          break;
        case "ping":
          ws.send(JSON.stringify({ type: "pong" }));
          break;
        case "next": {
          const sink = sinks.get(msg.id);
          if (!sink) break;
          if (msg.payload.errors?.length) sink.onError(new GraphQLError(msg.payload.errors));
          else sink.onData(msg.payload.data);
          break;
        }
        case "error":
          sinks.get(msg.id)?.onError(new GraphQLError(msg.payload));
          sinks.delete(msg.id);
          break;
        case "complete":
          sinks.delete(msg.id);
          break;
      }
    };
    ws.onclose = () => {
      if (socket === ws) {
        socket = null;
        ready = null;
      }
      reject(new Error("the live connection closed"));
      // Live views re-subscribe when the page is drawn again.
      for (const sink of sinks.values()) sink.onClosed?.();
      sinks.clear();
    };
  });
  ready.catch(() => {});
  return ready;
}

// subscribe starts a subscription and returns its stop function.
export function subscribe(document, variables, onData, onError = () => {}, onClosed) {
  const id = String(nextID++);
  sinks.set(id, { onData, onError, onClosed });
  openSocket()
    .then((ws) => {
      if (sinks.has(id)) ws.send(JSON.stringify({ id, type: "subscribe", payload: { query: document, variables } }));
    })
    .catch((err) => onError(err));
  return () => {
    if (!sinks.delete(id)) return;
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ id, type: "complete" }));
  };
}
