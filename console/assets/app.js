// Memory Gateway console: jobs, dead letters, session graphs, reviews,
// backends and erasures, built only on the public GraphQL API.
import { DOCS } from "./documents.js";
import { apiKey, query, setAPIKey, subscribe } from "./gql.js";
import { badge, confirmButton, h, link, nodeLink, table, time } from "./dom.js";
import { draw } from "./graph.js";

const TERMINAL = new Set(["SUCCESS", "PARTIAL_SUCCESS", "FAILED"]);
const JOB_STATUSES = ["ACCEPTED", "RUNNING", "SUCCESS", "PARTIAL_SUCCESS", "FAILED"];
const JOB_KINDS = ["COMMIT", "FEEDBACK_ROUTING", "ERASURE"];
const ERASURE_STATUSES = ["ACCEPTED", "RUNNING", "COMPLETED", "PARTIAL", "FAILED"];
const REFRESH_MS = 5000;

const PAGES = [
  { path: "/jobs", title: "Jobs", render: jobsPage },
  { path: "/dead-letters", title: "Dead letters", render: deadLettersPage },
  { path: "/session", title: "Sessions", render: sessionPage },
  { path: "/reviews", title: "Reviews", render: reviewsPage },
  { path: "/backends", title: "Backends", render: backendsPage },
  { path: "/erasures", title: "Erasures", render: erasuresPage },
];
const HIDDEN_PAGES = [
  { path: "/job", title: "Job", render: jobPage },
  { path: "/node", title: "Node", render: nodePage },
];

let cleanup = () => {};

function route() {
  const hash = location.hash.replace(/^#/, "") || "/jobs";
  const [pathPart, search = ""] = hash.split("?");
  const parts = pathPart.split("/").filter(Boolean);
  const base = "/" + (parts[0] || "jobs");
  const arg = parts.slice(1).map(decodeURIComponent).join("/");
  return { base, arg, params: new URLSearchParams(search) };
}

async function show() {
  cleanup();
  cleanup = () => {};
  let where;
  try {
    where = route();
  } catch {
    where = { base: "/jobs", arg: "", params: new URLSearchParams() }; // a malformed address
  }
  const { base, arg, params } = where;
  const page = [...PAGES, ...HIDDEN_PAGES].find((p) => p.path === base) || PAGES[0];
  for (const a of document.querySelectorAll("nav.pages a")) {
    if (a.getAttribute("href") === "#" + page.path) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
  const main = document.getElementById("main");
  main.replaceChildren(h("h1", { tabindex: "-1" }, page.title));
  main.dataset.page = page.path.slice(1);
  delete main.dataset.ready;
  document.title = page.title + " · Memory Gateway";
  const stops = [];
  try {
    await page.render(main, params, arg, (stop) => stops.push(stop));
  } catch (err) {
    main.append(errorBox(err));
  }
  main.dataset.ready = "true";
  cleanup = () => stops.forEach((stop) => stop());
}

function errorBox(err) {
  const code = err.code ? err.code + ": " : "";
  const hint = err.code === "UNAUTHENTICATED" ? " Paste an API key above." : "";
  return h("p", { class: "error", role: "alert" }, code + err.message + hint);
}

// notice shows a short message in the live region.
function notice(text) {
  document.getElementById("notice").textContent = text;
}

// filterForm is a form of selects and text fields that writes its values
// into the page's route.
function filterForm(path, params, fields) {
  const form = h("form", {
    class: "filters",
    onsubmit: (ev) => {
      ev.preventDefault();
      const q = new URLSearchParams();
      for (const f of fields) {
        const v = form.elements[f.name].value.trim();
        if (v) q.set(f.name, v);
      }
      location.hash = "#" + path + (q.toString() ? "?" + q : "");
    },
  });
  for (const f of fields) {
    const id = "f-" + f.name;
    const value = params.get(f.name) || "";
    const input = f.options
      ? h("select", { id, name: f.name }, h("option", { value: "" }, "any"), f.options.map((o) => h("option", { value: o, selected: o === value }, o)))
      : h("input", { id, name: f.name, value, placeholder: f.placeholder || "", autocomplete: "off", required: f.required });
    form.append(h("div", { class: "field" }, h("label", { for: id }, f.label), input));
  }
  form.append(h("button", { type: "submit" }, "Apply"));
  return form;
}

function nonEmpty(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== null && v !== undefined && v !== ""));
}

// ---- Jobs ----


async function jobsPage(main, params, _arg, onLeave) {
  main.append(
    filterForm("/jobs", params, [
      { name: "workspace", label: "Workspace" },
      { name: "session", label: "Session" },
      { name: "status", label: "Status", options: JOB_STATUSES },
      { name: "kind", label: "Kind", options: JOB_KINDS },
    ]),
  );
  const filter = nonEmpty({
    workspaceId: params.get("workspace"),
    sessionId: params.get("session"),
    status: params.get("status"),
    kind: params.get("kind"),
  });
  const data = await query(DOCS.jobs, { filter });
  const rows = new Map();
  const tbodyRows = data.jobs.edges.map(({ node }) => jobRow(node, rows));
  const t = table(["Job", "Kind", "Status", "Workspace", "Session", "Created", "Updated"], tbodyRows, { "aria-label": "Jobs", class: "jobs" });
  main.append(t);
  const tbody = t.querySelector("tbody");

  const follow = (job) => {
    if (TERMINAL.has(job.status)) return;
    onLeave(subscribe(DOCS.jobRow, { id: job.id }, (d) => updateJobRow(rows, d.jobUpdated)));
  };
  data.jobs.edges.forEach(({ node }) => follow(node));
  if (filter.workspaceId) {
    // New jobs of the workspace appear as they are accepted.
    const vars = nonEmpty({ workspaceId: filter.workspaceId, sessionId: filter.sessionId });
    onLeave(
      subscribe(DOCS.jobsFeed, vars, (d) => {
        const job = d.commitJobsUpdated;
        if (rows.has(job.id)) return updateJobRow(rows, job);
        if ((filter.status && filter.status !== job.status) || (filter.kind && filter.kind !== job.kind)) return;
        tbody.querySelector("td.empty")?.parentElement.remove();
        tbody.prepend(jobRow(job, rows));
        follow(job);
      }),
    );
  }
}

function jobRow(job, rows) {
  const status = h("td", { class: "status" }, badge(job.status));
  const updated = h("td", {}, time(job.updatedAt));
  const tr = h(
    "tr",
    { "data-job": job.id },
    h("td", {}, link("/job/" + encodeURIComponent(job.id), job.id, { class: "id" })),
    h("td", {}, job.kind),
    status,
    h("td", {}, job.workspaceId),
    h("td", {}, job.sessionId ? link(`/session?workspace=${encodeURIComponent(job.workspaceId)}&session=${encodeURIComponent(job.sessionId)}`, job.sessionId) : "—"),
    h("td", {}, time(job.createdAt)),
    updated,
  );
  rows.set(job.id, { status, updated });
  return tr;
}

function updateJobRow(rows, job) {
  const row = rows.get(job.id);
  if (!row) return;
  row.status.replaceChildren(badge(job.status));
  row.updated.replaceChildren(time(job.updatedAt));
}

// ---- One job ----

async function jobPage(main, _params, id, onLeave) {
  const load = () =>
    query(DOCS.job, { id });
  const body = h("div", { class: "job" });
  main.append(body);
  const render = (data) => {
    const job = data.node;
    if (!job || !job.kind) {
      body.replaceChildren(h("p", { class: "error", role: "alert" }, "No job " + id + " that this key may read."));
      return;
    }
    const events = job.outboxEvents.edges.map((e) => e.node);
    const facts = [
      ["Job", job.id],
      ["Kind", job.kind],
      ["Status", badge(job.status)],
      ["Workspace", job.workspaceId],
      job.sessionId && ["Session", link(`/session?workspace=${encodeURIComponent(job.workspaceId)}&session=${encodeURIComponent(job.sessionId)}`, job.sessionId)],
      job.userId && ["User", job.userId],
      job.agentId && ["Agent", job.agentId],
      job.namespace && ["Namespace", job.namespace],
      job.request && ["Erasure request", nodeLink(job.request.id)],
      job.errorMessage && ["Error", job.errorMessage],
    ].filter(Boolean);
    body.replaceChildren(
      h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", { "data-fact": k.toLowerCase() }, v)])),
      h("h2", {}, "Outbox events"),
      table(
        ["Event", "Backend", "Operation", "Status", "Attempts", "Last error", "Code", "Next retry", "Lease holder"],
        events.map((e) =>
          h(
            "tr",
            { "data-event": e.id },
            h("td", {}, nodeLink(e.id)),
            h("td", {}, e.backend),
            h("td", {}, e.operation),
            h("td", {}, badge(e.status)),
            h("td", {}, `${e.attemptCount} / ${e.maxAttempts}`),
            h("td", { class: "wrap" }, e.lastError || "—"),
            h("td", {}, e.lastErrorCode || "—"),
            h("td", {}, e.status === "PENDING" ? time(e.nextRetryAt) : "—"),
            h("td", {}, e.lockedBy || "—"),
          ),
        ),
        { "aria-label": "Outbox events" },
      ),
      ...(job.refs ? [h("h2", {}, "Refs"), refsTable(job.refs.edges.map((e) => e.node))] : []),
      h("h2", {}, "Timeline"),
      timeline(job, events),
    );
  };
  render(await load());
  onLeave(
    subscribe(DOCS.jobStatus, { id }, async () => {
      try {
        render(await load());
      } catch (err) {
        body.append(errorBox(err));
      }
    }),
  );
}

function refsTable(refs) {
  return table(
    ["Ref", "Backend", "Type", "Status", "Created"],
    refs.map((r) => h("tr", { "data-ref": r.id }, h("td", {}, nodeLink(r.id)), h("td", {}, r.backend), h("td", {}, r.refType), h("td", {}, badge(r.status)), h("td", {}, time(r.createdAt)))),
    { "aria-label": "Refs" },
  );
}

function timeline(job, events) {
  const items = [
    [job.createdAt, "accepted"],
    [job.startedAt, "started"],
    ...events.filter((e) => e.completedAt).map((e) => [e.completedAt, `${e.backend} ${e.operation} ${e.status.toLowerCase()} after ${e.attemptCount} attempt(s)`]),
    [job.finishedAt, "finished " + job.status.toLowerCase()],
  ].filter(([at]) => at);
  items.sort((a, b) => new Date(a[0]) - new Date(b[0]));
  return h("ol", { class: "timeline" }, items.map(([at, what]) => h("li", {}, time(at), " ", what)));
}

// ---- Dead letters ----

async function deadLettersPage(main, params, _arg, onLeave) {
  main.append(filterForm("/dead-letters", params, [{ name: "workspace", label: "Workspace" }]));
  const workspaceId = params.get("workspace") || null;
  const list = h("div", { class: "groups" });
  main.append(list);
  const load = async () => {
    const data = await query(DOCS.deadLetters, { filter: nonEmpty({ status: "DEAD_LETTER", workspaceId }) });
    const groups = new Map();
    for (const { node } of data.outboxEvents.edges) {
      const key = node.backend + " · " + (node.lastErrorCode || "no code");
      if (!groups.has(key)) groups.set(key, { backend: node.backend, code: node.lastErrorCode, events: [] });
      groups.get(key).events.push(node);
    }
    if (!groups.size) {
      list.replaceChildren(h("p", { class: "empty" }, "No dead letters."));
      return;
    }
    list.replaceChildren(
      ...[...groups.entries()].map(([key, g]) =>
        h(
          "section",
          { class: "group", "data-group": key },
          h("h2", {}, key, " ", h("span", { class: "count" }, `(${g.events.length})`)),
          confirmButton("Re-drive all", `Re-drive ${g.events.length} event(s) of ${key}?`, async () => {
            try {
              if (g.code) {
                const d = await query(DOCS.redriveEvents, {
                  f: nonEmpty({ status: "DEAD_LETTER", backend: g.backend, errorCode: g.code, workspaceId }),
                });
                notice(`Re-drove ${d.redriveOutboxEvents.redrivenCount} event(s).`);
              } else {
                for (const e of g.events) await query(DOCS.redriveEvent, { id: e.id });
                notice(`Re-drove ${g.events.length} event(s).`);
              }
              await load();
            } catch (err) {
              list.prepend(errorBox(err));
            }
          }),
          table(
            ["Event", "Job", "Workspace", "Attempts", "Last error", "Dead since", ""],
            g.events.map((e) =>
              h(
                "tr",
                { "data-event": e.id },
                h("td", {}, nodeLink(e.id)),
                h("td", {}, e.owner ? link("/job/" + encodeURIComponent(e.owner.id), e.owner.id, { class: "id" }) : "—"),
                h("td", {}, e.workspaceId),
                h("td", {}, e.attemptCount),
                h("td", { class: "wrap" }, e.lastError || "—"),
                h("td", {}, time(e.updatedAt)),
                h(
                  "td",
                  {},
                  confirmButton("Re-drive", `Re-drive ${e.id}?`, async () => {
                    try {
                      await query(DOCS.redriveEvent, { id: e.id });
                      notice(`Re-drove ${e.id}.`);
                      await load();
                    } catch (err) {
                      list.prepend(errorBox(err));
                    }
                  }),
                ),
              ),
            ),
            { "aria-label": "Dead letters of " + key },
          ),
        ),
      ),
    );
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), REFRESH_MS);
  onLeave(() => clearInterval(timer));
}

// ---- Session graph ----

async function sessionPage(main, params) {
  main.append(
    filterForm("/session", params, [
      { name: "workspace", label: "Workspace", required: true },
      { name: "session", label: "Session", required: true },
    ]),
  );
  const workspaceId = params.get("workspace");
  const sessionId = params.get("session");
  if (!workspaceId || !sessionId) {
    main.append(h("p", { class: "hint" }, "Name a workspace and a session to draw its graph."));
    return;
  }
  const data = await query(DOCS.sessionGraph, { ws: workspaceId, s: sessionId });
  const nodes = [];
  const edges = [];
  const listed = [];
  const seen = new Set();
  const add = (n) => {
    if (seen.has(n.id)) return;
    seen.add(n.id);
    nodes.push(n);
    listed.push(n);
  };
  const refs = data.session.refs.edges.map((e) => e.node);
  for (const r of refs) {
    if (r.turnId) {
      const turnNode = "turn:" + r.turnId;
      if (!seen.has(turnNode)) {
        seen.add(turnNode);
        nodes.push({ id: turnNode, column: 0, label: "turn " + r.turnId, sub: "", href: "#/node/" + encodeURIComponent(r.id), kind: "Turn" });
        listed.push({ id: r.turnId, kind: "Turn", label: r.turnId, sub: "", href: "#/node/" + encodeURIComponent(r.id) });
      }
      edges.push([turnNode, r.id]);
    }
    add({ id: r.id, column: 1, kind: "Ref", label: `${r.backend} ${r.refType}`, sub: r.id, status: r.status, href: "#/node/" + encodeURIComponent(r.id) });
    if (r.job) edges.push([r.id, r.job.id]);
    for (const { node: f } of r.feedback.edges) {
      add({ id: f.id, column: 4, kind: "Feedback", label: `${f.feedbackType} ${f.status}`, sub: f.id, status: f.status, href: "#/node/" + encodeURIComponent(f.id) });
      edges.push([r.id, f.id]);
    }
  }
  for (const { node: j } of data.session.jobs.edges) {
    add({ id: j.id, column: 2, kind: "Job", label: `${j.kind} ${j.status}`, sub: j.id, status: j.status, href: "#/job/" + encodeURIComponent(j.id) });
    for (const { node: e } of j.outboxEvents.edges) {
      add({ id: e.id, column: 3, kind: "Event", label: `${e.backend} ${e.status}`, sub: e.id, status: e.status, href: "#/node/" + encodeURIComponent(e.id) });
      edges.push([j.id, e.id]);
    }
  }
  main.append(
    h("figure", { class: "graph-wrap" }, draw(nodes, edges), h("figcaption", {}, `Session ${sessionId} of ${workspaceId}: ${refs.length} refs.`)),
    table(
      ["Kind", "Node", "What", "Status"],
      listed.map((n) => h("tr", {}, h("td", {}, n.kind), h("td", {}, h("a", { href: n.href, class: "id" }, n.id)), h("td", {}, n.label), h("td", {}, n.status ? badge(n.status) : "—"))),
      { "aria-label": "Session nodes" },
    ),
  );
}

// ---- Reviews ----

async function reviewsPage(main, params) {
  main.append(filterForm("/reviews", params, [{ name: "workspace", label: "Workspace" }]));
  const workspaceId = params.get("workspace") || null;
  const list = h("div");
  main.append(list);
  const load = async () => {
    const data = await query(DOCS.reviews, { filter: nonEmpty({ status: "RECEIVED", workspaceId }) });
    const items = data.feedback.edges.map((e) => e.node).filter((f) => f.feedbackType === "CORRECTION" || f.feedbackType === "DELETE_REQUEST");
    const decide = (f, decision) => async () => {
      try {
        const d = await query(DOCS.review, {
          in: { id: f.id, decision, reason: "reviewed in the console" },
        });
        notice(`${f.id} is ${d.reviewMemoryFeedback.feedback.status}.`);
        await load();
      } catch (err) {
        list.prepend(errorBox(err));
      }
    };
    list.replaceChildren(
      table(
        ["Feedback", "Type", "Memory", "Backend", "User", "Namespace", "Received", "Decision"],
        items.map((f) =>
          h(
            "tr",
            { "data-feedback": f.id },
            h("td", {}, nodeLink(f.id)),
            h("td", {}, f.feedbackType),
            h("td", {}, nodeLink(f.memoryRefId)),
            h("td", {}, `${f.ref.backend} ${f.ref.refType}`),
            h("td", {}, f.userId),
            h("td", {}, f.namespace),
            h("td", {}, time(f.createdAt)),
            h(
              "td",
              { class: "actions" },
              h("button", { type: "button", class: "accept", onclick: decide(f, "ACCEPT") }, "Accept"),
              " ",
              h("button", { type: "button", class: "reject", onclick: decide(f, "REJECT") }, "Reject"),
            ),
          ),
        ),
        { "aria-label": "Corrections and delete requests waiting for review" },
      ),
    );
  };
  await load();
}

// ---- Backends ----

async function backendsPage(main, params, _arg, onLeave) {
  main.append(filterForm("/backends", params, [{ name: "workspace", label: "Workspace" }]));
  const workspaceId = params.get("workspace") || null;
  const body = h("div", { class: "backends" });
  const stamp = h("p", { class: "hint", "aria-live": "polite" });
  main.append(body, stamp);
  const load = async () => {
    const data = await query(DOCS.backends, { ws: workspaceId });
    const sums = new Map(data.outboxSummaries.map((o) => [o.backend, o.summary]));
    body.replaceChildren(
      table(
        ["Backend", "Health", "Breaker", "Latency", "Pending", "Processing", "Success", "Skipped", "Dead letters", "Error"],
        data.backends.map((b) => {
          const s = sums.get(b.backend) || {};
          return h(
            "tr",
            { "data-backend": b.backend },
            h("td", {}, b.backend),
            h("td", {}, badge(b.healthy ? "HEALTHY" : "UNHEALTHY")),
            h("td", {}, badge(b.breakerState)),
            h("td", {}, b.latencyMs == null ? "—" : b.latencyMs + " ms"),
            h("td", { "data-count": "pending" }, s.pendingEvents ?? 0),
            h("td", {}, s.processingEvents ?? 0),
            h("td", {}, s.successEvents ?? 0),
            h("td", {}, s.skippedEvents ?? 0),
            h("td", { "data-count": "dead" }, s.deadLetterEvents ? link("/dead-letters" + (workspaceId ? "?workspace=" + encodeURIComponent(workspaceId) : ""), String(s.deadLetterEvents)) : 0),
            h("td", { class: "wrap" }, b.error || "—"),
          );
        }),
        { "aria-label": "Backends" },
      ),
    );
    stamp.textContent = "Refreshed " + new Date().toLocaleTimeString() + "; again every " + REFRESH_MS / 1000 + " s.";
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), REFRESH_MS);
  onLeave(() => clearInterval(timer));
}

// ---- Erasures ----

async function erasuresPage(main, params, _arg, onLeave) {
  main.append(
    filterForm("/erasures", params, [
      { name: "workspace", label: "Workspace" },
      { name: "user", label: "User" },
      { name: "status", label: "Status", options: ERASURE_STATUSES },
    ]),
  );
  const filter = nonEmpty({ workspaceId: params.get("workspace"), userId: params.get("user"), status: params.get("status") });
  const body = h("div");
  main.append(body);
  const load = async () => {
    const data = await query(DOCS.erasures, { filter });
    body.replaceChildren(
      table(
        ["Request", "Subject", "Status", "Per backend", "Requested by", "Created", "Finished"],
        data.erasureRequests.edges.map(({ node: r }) =>
          h(
            "tr",
            { "data-erasure": r.id },
            h("td", {}, nodeLink(r.id), h("br"), link("/job/" + encodeURIComponent(r.job.id), r.job.id, { class: "id small" })),
            h("td", {}, `${r.workspaceId} / ${r.userId}`, r.agentId ? ` / agent ${r.agentId}` : "", r.namespace ? ` / ${r.namespace}` : ""),
            h("td", {}, badge(r.status)),
            h(
              "td",
              {},
              h(
                "ul",
                { class: "plain" },
                r.backends.map((b) =>
                  h(
                    "li",
                    {},
                    `${b.backend}: `,
                    badge(b.outcome),
                    b.verified ? " verified" : " not verified",
                    b.residue ? `, ${b.residue} left` : "",
                    residueKinds(b.residueByKind),
                    b.detail ? ` (${b.detail})` : "",
                  ),
                ),
              ),
            ),
            h("td", {}, r.requestedBy),
            h("td", {}, time(r.createdAt)),
            h("td", {}, time(r.finishedAt)),
          ),
        ),
        { "aria-label": "Erasure requests" },
      ),
    );
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), REFRESH_MS);
  onLeave(() => clearInterval(timer));
}

// ---- Any node ----

async function nodePage(main, _params, id) {
  const kind = await query(DOCS.nodeKind, { id });
  const typename = kind.node?.__typename;
  if (kind.node?.kind) {
    location.replace("#/job/" + encodeURIComponent(id));
    return;
  }
  const data = DOCS["node" + typename]
    ? await query(DOCS["node" + typename], { id })
    : kind;
  const node = data.node;
  if (!node) {
    main.append(h("p", { class: "error", role: "alert" }, "No node " + id + " that this key may read."));
    return;
  }
  if (node.__typename === "Session") {
    location.replace(`#/session?workspace=${encodeURIComponent(node.workspaceId)}&session=${encodeURIComponent(node.sessionId)}`);
    return;
  }
  const rows = [];
  for (const [k, v] of Object.entries(node)) {
    if (k === "__typename" || v === null || v === undefined) continue;
    let value;
    if (v && typeof v === "object" && v.edges) value = v.edges.length ? v.edges.map((e) => [nodeLink(e.node.id), " "]) : "—";
    else if (v && typeof v === "object" && v.id) value = nodeLink(v.id);
    else if (/(Id|^id)$/.test(k) && typeof v === "string" && /^[a-z]+_/.test(v) && k !== "id") value = nodeLink(v);
    else if (/At$/.test(k)) value = time(v);
    else if (/status|outcome/i.test(k)) value = badge(v);
    else value = String(v);
    rows.push([h("dt", {}, k), h("dd", {}, value)]);
  }
  main.querySelector("h1").textContent = node.__typename;
  main.append(h("dl", { class: "facts" }, rows));
}

// ---- Shell ----

function shell() {
  const keyInput = h("input", { id: "api-key", type: "password", autocomplete: "off", placeholder: "mgw_…", "aria-describedby": "key-state" });
  const keyState = h("span", { id: "key-state", class: "hint" });
  const paint = () => {
    keyState.textContent = apiKey() ? "A key is set for this tab." : "No key: dev mode only.";
  };
  paint();
  const header = h(
    "header",
    {},
    h("a", { href: "#main", class: "skip" }, "Skip to content"),
    h("span", { class: "brand" }, "Memory Gateway"),
    h("nav", { class: "pages", "aria-label": "Pages" }, PAGES.map((p) => link(p.path, p.title))),
    h(
      "form",
      {
        class: "key",
        onsubmit: (ev) => {
          ev.preventDefault();
          setAPIKey(keyInput.value.trim());
          keyInput.value = "";
          paint();
          show();
        },
      },
      h("label", { for: "api-key" }, "API key"),
      keyInput,
      h("button", { type: "submit" }, "Use"),
      h(
        "button",
        {
          type: "button",
          onclick: () => {
            setAPIKey("");
            paint();
            show();
          },
        },
        "Forget",
      ),
      keyState,
    ),
  );
  document.body.replaceChildren(header, h("main", { id: "main", tabindex: "-1" }), h("p", { id: "notice", role: "status", "aria-live": "polite" }));
}

shell();
window.addEventListener("hashchange", show);
show();

// residueKinds lists what a backend still holds, kind by kind, marking what
// it can neither list (count unknown) nor delete.
function residueKinds(kinds) {
  const left = (kinds || []).filter((k) => k.count > 0 || !k.counted);
  if (left.length === 0) return "";
  const count = (k) => (k.counted ? String(k.count) : k.count > 0 ? `at least ${k.count}` : "not listable");
  return ` — ${left.map((k) => `${k.kind}: ${count(k)}${k.erasable ? "" : " (cannot be deleted there)"}`).join(", ")}`;
}
