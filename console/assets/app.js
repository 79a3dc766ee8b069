// Memory Gateway console: jobs, dead letters, session graphs, reviews,
// backends and erasures, built only on the public GraphQL API.
import { DOCS } from "./documents.js";
import { apiKey, query, setAPIKey, subscribe } from "./gql.js";
import { badge, between, clipped, confirmButton, copyable, duration, h, link, nodeLink, s, table, time } from "./dom.js";
import { draw } from "./graph.js";

const TERMINAL = new Set(["SUCCESS", "PARTIAL_SUCCESS", "FAILED"]);
const JOB_STATUSES = ["ACCEPTED", "RUNNING", "SUCCESS", "PARTIAL_SUCCESS", "FAILED"];
const JOB_KINDS = ["COMMIT", "FEEDBACK_ROUTING", "ERASURE"];
const ERASURE_STATUSES = ["ACCEPTED", "RUNNING", "COMPLETED", "PARTIAL", "FAILED"];
const REFRESH_MS = 5000;

const PAGES = [
  { path: "/jobs", title: "Jobs", render: jobsPage },
  { path: "/dead-letters", title: "Dead letters", render: deadLettersPage },
  { path: "/sessions", title: "Sessions", render: sessionsPage },
  { path: "/reviews", title: "Reviews", render: reviewsPage },
  { path: "/failed-writes", title: "Failed writes", render: failedWritesPage },
  { path: "/backends", title: "Backends", render: backendsPage },
  { path: "/erasures", title: "Erasures", render: erasuresPage },
];
const HIDDEN_PAGES = [
  { path: "/job", title: "Job", render: jobPage },
  { path: "/node", title: "Node", render: nodePage },
  { path: "/session", title: "Session", render: sessionPage },
  { path: "/find", title: "Find", render: findPage },
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
      : h("input", { id, name: f.name, type: f.type || "text", value, placeholder: f.placeholder || "", autocomplete: "off", required: f.required });
    if (f.type === "hidden") form.append(input);
    else form.append(h("div", { class: "field" }, h("label", { for: id }, f.label), input));
  }
  form.append(h("button", { type: "submit" }, "Apply"));
  return form;
}

function nonEmpty(obj) {
  return Object.fromEntries(Object.entries(obj).filter(([, v]) => v !== null && v !== undefined && v !== ""));
}

// ---- Jobs ----

// ID_PAGES routes an id by its prefix to the page that shows it; an id
// with no known prefix is taken for a session id.
const ID_PAGES = [
  ["gwc_", (id) => "/job/" + encodeURIComponent(id)],
  ["era_", (id) => "/node/" + encodeURIComponent(id)],
  ["ref_", (id) => "/node/" + encodeURIComponent(id)],
  ["outbox_", (id) => "/node/" + encodeURIComponent(id)],
  ["fb_", (id) => "/node/" + encodeURIComponent(id)],
  ["audit_", (id) => "/node/" + encodeURIComponent(id)],
  ["ses_", (id) => "/node/" + encodeURIComponent(id)],
];

// findForm finds any id: a job, ref, event, feedback, erasure, audit entry
// or session (by its node id or its own session id).
function findForm() {
  const input = h("input", { id: "find-id", name: "id", placeholder: "gwc_…, ref_…, outbox_…, fb_…, a session id", autocomplete: "off", required: true, size: 36 });
  return h(
    "form",
    {
      class: "filters find",
      role: "search",
      onsubmit: (ev) => {
        ev.preventDefault();
        const id = input.value.trim();
        if (!id) return;
        const page = ID_PAGES.find(([prefix]) => id.startsWith(prefix));
        location.hash = "#" + (page ? page[1](id) : "/find/" + encodeURIComponent(id));
      },
    },
    h("div", { class: "field" }, h("label", { for: "find-id" }, "Find by id"), input),
    h("button", { type: "submit" }, "Find"),
  );
}

// findPage resolves an id with no prefix as a session id, through its jobs
// or refs, to the session's page.
async function findPage(main, _params, id) {
  main.append(findForm());
  const data = await query(DOCS.findSession, { s: id });
  const hit = data.jobs.edges[0]?.node || data.memoryRefs.edges[0]?.node;
  if (!hit) {
    main.append(h("p", { class: "error", role: "alert" }, "Nothing with id " + id + " that this key may read."));
    return;
  }
  location.replace(`#/session?workspace=${encodeURIComponent(hit.workspaceId)}&session=${encodeURIComponent(id)}`);
}

// localInput turns a datetime-local value into an RFC 3339 time.
function toTime(local) {
  if (!local) return null;
  const d = new Date(local);
  return Number.isNaN(d.getTime()) ? null : d.toISOString();
}

function timeRange(params) {
  const range = nonEmpty({ from: toTime(params.get("from")), to: toTime(params.get("to")) });
  return Object.keys(range).length ? range : null;
}

// pager is a "load more" row under a list: it says how many of the total
// are shown and fetches the next page on demand.
function pager(noun, fetchPage, appendRows) {
  const stateText = h("span", { class: "shown", "aria-live": "polite" });
  const more = h("button", { type: "button", class: "more" }, "Load more");
  const wrap = h("p", { class: "pager" }, stateText, " ", more);
  let shown = 0;
  let cursor = null;
  const paint = (total, hasNext) => {
    stateText.textContent = `Showing ${shown} of ${total ?? "?"} ${noun}.`;
    wrap.dataset.shown = String(shown);
    wrap.dataset.total = String(total ?? "");
    more.hidden = !hasNext;
  };
  more.onclick = async () => {
    more.disabled = true;
    try {
      await load(cursor);
    } catch (err) {
      wrap.after(errorBox(err));
    } finally {
      more.disabled = false;
    }
  };
  const load = async (after) => {
    const conn = await fetchPage(after);
    shown += conn.edges.length;
    cursor = conn.pageInfo.endCursor;
    appendRows(conn, after == null);
    paint(conn.totalCount, conn.pageInfo.hasNextPage);
    return conn;
  };
  return { element: wrap, load, added: (n) => { shown += n; } };
}

async function jobsPage(main, params, _arg, onLeave) {
  main.append(
    findForm(),
    filterForm("/jobs", params, [
      { name: "workspace", label: "Workspace" },
      { name: "session", label: "Session" },
      { name: "status", label: "Status", options: JOB_STATUSES },
      { name: "kind", label: "Kind", options: JOB_KINDS },
      { name: "from", label: "Created from", type: "datetime-local" },
      { name: "to", label: "Created before", type: "datetime-local" },
    ]),
  );
  const filter = nonEmpty({
    workspaceId: params.get("workspace"),
    sessionId: params.get("session"),
    status: params.get("status"),
    kind: params.get("kind"),
    createdAt: timeRange(params),
  });
  const totals = h("nav", { class: "totals", "aria-label": "Jobs per status" });
  const rows = new Map();
  const t = table(["Job", "Kind", "Status", "Workspace", "Session", "Created", "Duration", "Updated"], [], { "aria-label": "Jobs", class: "jobs" });
  const tbody = t.querySelector("tbody");
  tbody.replaceChildren();
  const follow = (job) => {
    if (TERMINAL.has(job.status)) return;
    onLeave(subscribe(DOCS.jobRow, { id: job.id }, (d) => updateJobRow(rows, d.jobUpdated)));
  };
  const list = pager(
    "jobs",
    async (after) => (await query(DOCS.jobs, { filter, after })).jobs,
    (conn, first) => {
      if (first) paintTotals(totals, params, conn.statusCounts);
      for (const { node } of conn.edges) {
        if (rows.has(node.id)) continue;
        tbody.append(jobRow(node, rows));
        follow(node);
      }
      if (!tbody.children.length) tbody.append(h("tr", {}, h("td", { colspan: 8, class: "empty" }, "Nothing here.")));
    },
  );
  main.append(totals, t, list.element);
  await list.load(null);
  if (filter.workspaceId) {
    // New jobs of the workspace appear as they are accepted.
    const vars = nonEmpty({ workspaceId: filter.workspaceId, sessionId: filter.sessionId });
    onLeave(
      subscribe(DOCS.jobsFeed, vars, (d) => {
        const job = d.commitJobsUpdated;
        if (rows.has(job.id)) return updateJobRow(rows, job);
        if ((filter.status && filter.status !== job.status) || (filter.kind && filter.kind !== job.kind) || filter.createdAt) return;
        tbody.querySelector("td.empty")?.parentElement.remove();
        tbody.prepend(jobRow(job, rows));
        list.added(1);
        follow(job);
      }),
    );
  }
}

// paintTotals shows how many jobs the filter finds in each status, each a
// link to the list of that status.
function paintTotals(totals, params, counts) {
  if (!counts) return;
  totals.replaceChildren(
    ...counts.map(({ status, count }) => {
      const q = new URLSearchParams(params);
      q.set("status", status);
      const current = params.get("status") === status;
      return link("/jobs?" + q, [badge(status), " ", h("span", { class: "n" }, count)], { class: "total", "data-total": status, "aria-current": current ? "true" : null });
    }),
  );
  if (params.get("status")) {
    const q = new URLSearchParams(params);
    q.delete("status");
    totals.append(link("/jobs" + (q.toString() ? "?" + q : ""), "every status", { class: "total" }));
  }
}

function jobDuration(job) {
  return duration(between(job.startedAt || job.createdAt, job.finishedAt));
}

function jobRow(job, rows) {
  const status = h("td", { class: "status" }, badge(job.status));
  const updated = h("td", {}, time(job.updatedAt));
  const took = h("td", { class: "duration", title: job.finishedAt ? "accepted to finished" : "so far" }, jobDuration(job));
  const tr = h(
    "tr",
    { "data-job": job.id },
    h("td", {}, link("/job/" + encodeURIComponent(job.id), job.id, { class: "id" })),
    h("td", {}, job.kind),
    status,
    h("td", {}, job.workspaceId),
    h("td", {}, job.sessionId ? link(`/session?workspace=${encodeURIComponent(job.workspaceId)}&session=${encodeURIComponent(job.sessionId)}`, clipped(job.sessionId)) : "—"),
    h("td", {}, time(job.createdAt)),
    took,
    updated,
  );
  rows.set(job.id, { status, updated, took });
  return tr;
}

function updateJobRow(rows, job) {
  const row = rows.get(job.id);
  if (!row) return;
  row.status.replaceChildren(badge(job.status));
  row.updated.replaceChildren(time(job.updatedAt));
  if (job.createdAt) row.took.replaceChildren(jobDuration(job));
}

// ---- One job ----

async function jobPage(main, _params, id, onLeave) {
  const load = () => query(DOCS.job, { id });
  const body = h("div", { class: "job" });
  main.append(body);
  const render = (data) => {
    const job = data.node;
    if (!job || !job.kind) {
      body.replaceChildren(h("p", { class: "error", role: "alert" }, "No job " + id + " that this key may read."));
      return;
    }
    const events = job.outboxEvents.edges.map((e) => e.node);
    const dead = events.filter((e) => e.status === "DEAD_LETTER");
    const facts = [
      ["Job", job.id],
      ["Kind", job.kind],
      ["Status", badge(job.status)],
      ["Duration", jobDuration(job)],
      ["Workspace", job.workspaceId],
      job.sessionId && ["Session", link(`/session?workspace=${encodeURIComponent(job.workspaceId)}&session=${encodeURIComponent(job.sessionId)}`, job.sessionId)],
      job.userId && ["User", job.userId],
      job.agentId && ["Agent", job.agentId],
      job.namespace && ["Namespace", job.namespace],
      job.request && ["Erasure request", nodeLink(job.request.id)],
      job.errorMessage && ["Error", h("span", { class: "wrap" }, job.errorMessage)],
    ].filter(Boolean);
    const redriveAll = dead.length
      ? confirmButton(`Re-drive ${dead.length} dead letter(s)`, `Re-drive the ${dead.length} dead-lettered event(s) of this job?`, async () => {
          try {
            const d = await query(DOCS.redriveEvents, { f: { jobId: job.id, status: "DEAD_LETTER" } });
            notice(`Re-drove ${d.redriveOutboxEvents.redrivenCount} event(s).`);
            render(await load());
          } catch (err) {
            body.prepend(errorBox(err));
          }
        })
      : null;
    body.replaceChildren(
      h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", { "data-fact": k.toLowerCase() }, v)])),
      h("h2", {}, "Outbox events"),
      redriveAll ? h("p", { class: "actions redrive-job" }, redriveAll) : null,
      table(
        ["Event", "Backend", "Operation", "Status", "Attempts", "Why it waits", "Last error", ""],
        events.map((e) =>
          h(
            "tr",
            { "data-event": e.id },
            h("td", {}, nodeLink(e.id)),
            h("td", {}, e.backend),
            h("td", {}, e.operation),
            h("td", {}, badge(e.status)),
            h("td", {}, `${e.attemptCount} / ${e.maxAttempts}`),
            h("td", { class: "wait" }, waitText(e.waitReason)),
            // The error once: a backend's error never names the backend,
            // which the row already shows.
            h("td", { class: "wrap" }, errorText(e.lastErrorCode, e.lastError)),
            h(
              "td",
              {},
              e.status === "DEAD_LETTER"
                ? confirmButton("Re-drive", `Re-drive ${e.backend} ${e.operation}?`, async () => {
                    try {
                      await query(DOCS.redriveEvent, { id: e.id });
                      notice(`Re-drove ${e.id}.`);
                      render(await load());
                    } catch (err) {
                      body.prepend(errorBox(err));
                    }
                  })
                : "",
            ),
          ),
        ),
        { "aria-label": "Outbox events" },
      ),
      h("h2", {}, "Attempts"),
      ...events.map((e) => attemptsTable(e)),
      ...(job.refs ? [h("h2", {}, "Refs"), refsTable(job.refs.edges.map((e) => e.node))] : []),
      h("h2", {}, "Timeline"),
      timeline(job, events),
    );
  };
  let shown = "";
  const stamp = (job) => (job ? job.status + " " + job.updatedAt : "");
  const first = await load();
  shown = stamp(first.node);
  render(first);
  onLeave(
    subscribe(DOCS.jobStatus, { id }, async (d) => {
      // The subscription starts with the job as it is: drawn already, and
      // drawing it again would close an open confirmation.
      if (stamp(d.jobUpdated) === shown) return;
      try {
        const data = await load();
        shown = stamp(data.node);
        render(data);
      } catch (err) {
        body.append(errorBox(err));
      }
    }),
  );
}

// errorText shows an error once: its code only when the message does not
// already say it.
function errorText(code, message) {
  if (!message) return code || "—";
  if (!code || message.toLowerCase().includes(code.toLowerCase())) return message;
  return [h("code", {}, code), " ", message];
}

const WAIT_TEXT = {
  QUEUED: () => "queued: due now",
  RETRY_DUE: (w) => ["retry due ", time(w.until)],
  BREAKER_OPEN: (w) => [`${w.backend}'s breaker is open; it probes again `, time(w.until)],
  BACKEND_PENDING: (w) => [`${w.backend} is still working; looked at again `, time(w.until)],
  LEASE_HELD: (w) => [`running on ${w.workerId || "a worker"}, lease until `, time(w.until)],
  LEASE_EXPIRED: (w) => [`the lease of ${w.workerId || "a worker"} ended `, time(w.until), "; the next sweep hands it back"],
};

// waitText says why an unfinished event has not run yet.
function waitText(w) {
  if (!w) return "—";
  const text = WAIT_TEXT[w.reason];
  return h("span", { "data-wait": w.reason }, text ? text(w) : w.reason);
}

// attemptsTable lists an event's runs, newest first, with their durations.
function attemptsTable(e) {
  const runs = e.attempts || [];
  return h(
    "section",
    { class: "attempts", "data-attempts": e.id },
    h("h3", {}, `${e.backend} ${e.operation}`, " ", h("span", { class: "count" }, `(${runs.length} run(s))`)),
    table(
      ["Run", "Attempt", "Outcome", "Worker", "Started", "Took", "Error"],
      runs.map((a) =>
        h(
          "tr",
          { "data-run": a.number },
          h("td", {}, "#" + a.number),
          h("td", {}, a.attempt),
          h("td", {}, badge(a.outcome)),
          h("td", {}, clipped(a.workerId)),
          h("td", {}, time(a.startedAt)),
          h("td", { class: "duration" }, duration(a.durationMs)),
          h("td", { class: "wrap" }, errorText(a.errorCode, a.errorMessage)),
        ),
      ),
      { "aria-label": "Attempts of " + e.id },
    ),
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
  // Bulk: the checked events of any group, re-driven one by one.
  const selected = new Set();
  const bulkCount = h("span", { class: "count" });
  const paintBulk = () => {
    bulkCount.textContent = `${selected.size} selected`;
    bulk.hidden = selected.size === 0;
  };
  const bulk = h(
    "p",
    { class: "bulk", hidden: true },
    bulkCount,
    " ",
    confirmButton("Re-drive selected", "Re-drive the selected events?", async () => {
      let done = 0;
      try {
        for (const id of [...selected]) {
          await query(DOCS.redriveEvent, { id });
          selected.delete(id);
          done++;
        }
        notice(`Re-drove ${done} event(s).`);
      } catch (err) {
        list.prepend(errorBox(err));
      }
      await load();
    }),
  );
  main.append(bulk, list);
  const load = async () => {
    const data = await query(DOCS.deadLetters, { filter: nonEmpty({ status: "DEAD_LETTER", workspaceId }) });
    const groups = new Map();
    for (const { node } of data.outboxEvents.edges) {
      const key = node.backend + " · " + (node.lastErrorCode || "no code");
      if (!groups.has(key)) groups.set(key, { backend: node.backend, code: node.lastErrorCode, events: [] });
      groups.get(key).events.push(node);
    }
    const present = new Set(data.outboxEvents.edges.map((e) => e.node.id));
    for (const id of [...selected]) if (!present.has(id)) selected.delete(id);
    paintBulk();
    if (!groups.size) {
      list.replaceChildren(h("p", { class: "empty" }, "No dead letters."));
      return;
    }
    const shownNote =
      data.outboxEvents.totalCount > data.outboxEvents.edges.length
        ? h("p", { class: "hint" }, `The newest ${data.outboxEvents.edges.length} of ${data.outboxEvents.totalCount} dead letters; a group's "Re-drive all" takes every one of its backend and code.`)
        : null;
    const check = (e) =>
      h("input", {
        type: "checkbox",
        class: "pick",
        "aria-label": "Select " + e.id,
        checked: selected.has(e.id),
        onchange: (ev) => {
          if (ev.target.checked) selected.add(e.id);
          else selected.delete(e.id);
          paintBulk();
        },
      });
    list.replaceChildren(
      shownNote,
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
            ["", "Event", "Operation", "Job", "Workspace", "Attempts", "Last error", "Dead since", ""],
            g.events.map((e) =>
              h(
                "tr",
                { "data-event": e.id },
                h("td", {}, check(e)),
                h("td", {}, nodeLink(e.id)),
                h("td", {}, e.operation),
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
  // Refreshing keeps the checks: rows are drawn afresh from the selection.
  const timer = setInterval(() => load().catch(() => {}), REFRESH_MS);
  onLeave(() => clearInterval(timer));
}

// ---- Session graph ----

async function sessionsPage(main, params) {
  main.append(
    findForm(),
    filterForm("/sessions", params, [
      { name: "workspace", label: "Workspace" },
      { name: "user", label: "User" },
      { name: "agent", label: "Agent" },
      { name: "from", label: "Begun from", type: "datetime-local" },
      { name: "to", label: "Begun before", type: "datetime-local" },
    ]),
  );
  const filter = nonEmpty({ workspaceId: params.get("workspace"), userId: params.get("user"), agentId: params.get("agent"), createdAt: timeRange(params) });
  const t = table(["Session", "Workspace", "User", "Begun", ""], [], { "aria-label": "Sessions" });
  const tbody = t.querySelector("tbody");
  tbody.replaceChildren();
  const list = pager(
    "sessions",
    async (after) => (await query(DOCS.sessions, { filter, after })).sessions,
    (conn) => {
      for (const e of conn.edges) {
        const s = e.node;
        const href = `/session?workspace=${encodeURIComponent(s.workspaceId)}&session=${encodeURIComponent(s.sessionId)}`;
        tbody.append(
          h(
            "tr",
            { "data-session": s.sessionId },
            h("td", {}, link(href, clipped(s.sessionId), { class: "id" })),
            h("td", {}, s.workspaceId),
            h("td", {}, e.userId),
            h("td", {}, time(e.startedAt)),
            h("td", {}, link(`/jobs?workspace=${encodeURIComponent(s.workspaceId)}&session=${encodeURIComponent(s.sessionId)}`, "jobs")),
          ),
        );
      }
      if (!tbody.children.length) tbody.append(h("tr", {}, h("td", { colspan: 5, class: "empty" }, "Nothing here.")));
    },
  );
  main.append(t, list.element);
  await list.load(null);
}

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
    main.append(h("p", { class: "hint" }, "Name a workspace and a session to draw its graph, or pick one from ", link("/sessions", "the sessions"), "."));
    return;
  }
  const body = h("div", { class: "session" });
  main.append(body);
  const refs = [];
  let data;
  let after = null;
  const fetchMore = async () => {
    data = await query(DOCS.sessionGraph, { ws: workspaceId, s: sessionId, after });
    refs.push(...data.session.refs.edges.map((e) => e.node));
    after = data.session.refs.pageInfo.endCursor;
  };
  const render = () => {
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
    // Turns oldest first: the conversation reads top to bottom.
    const ordered = [...refs].sort((a, b) => new Date(a.createdAt) - new Date(b.createdAt) || (a.turnId || "").localeCompare(b.turnId || "") || a.id.localeCompare(b.id));
    for (const r of ordered) {
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
    const hasMore = data.session.refs.pageInfo.hasNextPage;
    const more = h("button", {
      type: "button",
      class: "more",
      onclick: async () => {
        more.disabled = true;
        try {
          await fetchMore();
          render();
        } catch (err) {
          body.append(errorBox(err));
        }
      },
    }, "Load more refs");
    body.replaceChildren(
      h(
        "p",
        { class: "refs-shown", "data-refs": refs.length, "data-capped": hasMore ? "true" : "false" },
        hasMore ? `The first ${refs.length} refs are drawn; the session has more. ` : `All ${refs.length} refs are drawn. `,
        hasMore ? more : null,
      ),
      h("figure", { class: "graph-wrap" }, draw(nodes, edges), h("figcaption", {}, `Session ${sessionId} of ${workspaceId}: ${refs.length} refs${hasMore ? " (more not drawn)" : ""}, turns oldest first.`)),
      table(
        ["Kind", "Node", "What", "Status"],
        listed.map((n) =>
          h(
            "tr",
            {},
            h("td", {}, n.kind),
            h("td", {}, h("a", { href: n.href, class: "id clip", title: n.id }, n.id)),
            h("td", {}, clipped(n.label)),
            h("td", {}, n.status ? badge(n.status) : "—"),
          ),
        ),
        { "aria-label": "Session nodes" },
      ),
    );
  };
  await fetchMore();
  render();
}

// ---- Reviews ----

const FEEDBACK_TYPES = ["CORRECTION", "DELETE_REQUEST", "HELPFUL", "NOT_HELPFUL"];
const UNAVAILABLE_TEXT = {
  NOT_READABLE: "the backend cannot read this kind of memory back",
  NOT_FOUND: "the backend no longer holds it",
  BACKEND_FAILED: "the backend did not answer",
  RETIRED: "corrected or deleted since",
};

// reviewTexts puts the correction (or comment) beside the memory's current
// text, when the key may read them.
function reviewTexts(f) {
  const t = f.reviewTexts;
  if (!t) return h("span", { class: "hint" }, "texts are for reviewers only");
  if (t.blind) return h("span", { class: "hint" }, "blind review: no text is shown");
  return h(
    "dl",
    {},
    t.correction != null && [h("dt", {}, "Correction"), h("dd", { "data-text": "correction" }, t.correction)],
    t.comment != null && [h("dt", {}, "Comment"), h("dd", { "data-text": "comment" }, t.comment)],
    h("dt", {}, "Memory now"),
    h("dd", { "data-text": "memory" }, t.memoryText ?? h("span", { class: "hint" }, "not shown: " + (UNAVAILABLE_TEXT[t.memoryTextUnavailable] || t.memoryTextUnavailable || "unknown"))),
  );
}

async function reviewsPage(main, params) {
  const decided = params.get("tab") === "decided";
  const tabLink = (tab, text) => {
    const q = new URLSearchParams(params);
    if (tab) q.set("tab", tab);
    else q.delete("tab");
    return link("/reviews" + (q.toString() ? "?" + q : ""), text, { "aria-current": (tab === "decided") === decided ? "page" : null, "data-tab": tab || "waiting" });
  };
  main.append(
    h("nav", { class: "tabs", "aria-label": "Review tabs" }, tabLink("", "Waiting"), tabLink("decided", "Decided")),
    filterForm("/reviews", params, [
      { name: "workspace", label: "Workspace" },
      { name: "user", label: "User" },
      { name: "type", label: "Type", options: FEEDBACK_TYPES },
      ...(decided ? [{ name: "tab", type: "hidden" }] : []),
    ]),
  );
  const filter = nonEmpty({ workspaceId: params.get("workspace"), userId: params.get("user"), feedbackType: params.get("type"), decided });
  const reason = h("input", { id: "review-reason", name: "reason", placeholder: "why (recorded with each decision)", autocomplete: "off", maxlength: 1024 });
  const selected = new Set();
  const bulkCount = h("span", { class: "count" }, "0 selected");
  const list = h("div");
  const decideMany = (decision) => async () => {
    if (!selected.size) return;
    try {
      const d = await query(DOCS.reviewMany, { in: nonEmpty({ ids: [...selected], decision, reason: reason.value.trim() }) });
      const failed = d.reviewMemoryFeedbacks.results.filter((r) => r.error);
      notice(`${d.reviewMemoryFeedbacks.results.length - failed.length} decided` + (failed.length ? `, ${failed.length} not: ${failed.map((r) => `${r.id}: ${r.error.code}`).join("; ")}` : "."));
      selected.clear();
      await load();
    } catch (err) {
      list.prepend(errorBox(err));
    }
  };
  if (!decided) {
    main.append(
      h(
        "form",
        { class: "review-reason", onsubmit: (ev) => ev.preventDefault() },
        h("div", { class: "field" }, h("label", { for: "review-reason" }, "Reason"), reason),
        bulkCount,
        h("button", { type: "button", class: "accept bulk-accept", onclick: decideMany("ACCEPT") }, "Accept selected"),
        h("button", { type: "button", class: "reject bulk-reject", onclick: decideMany("REJECT") }, "Reject selected"),
      ),
    );
  }
  main.append(list);
  const paintCount = () => {
    bulkCount.textContent = `${selected.size} selected`;
  };
  const load = async () => {
    const data = await query(DOCS.reviews, { filter });
    // Only corrections and delete requests wait for a decision.
    const items = data.feedback.edges.map((e) => e.node).filter((f) => decided || f.feedbackType === "CORRECTION" || f.feedbackType === "DELETE_REQUEST");
    paintCount();
    const decide = (f, decision) => async () => {
      try {
        const d = await query(DOCS.review, { in: nonEmpty({ id: f.id, decision, reason: reason.value.trim() }) });
        notice(`${f.id} is ${d.reviewMemoryFeedback.feedback.status}.`);
        selected.delete(f.id);
        await load();
      } catch (err) {
        list.prepend(errorBox(err));
      }
    };
    const pickAll = h("input", {
      type: "checkbox",
      class: "pick-all",
      "aria-label": "Select every item shown",
      onchange: (ev) => {
        for (const box of list.querySelectorAll("input.pick")) {
          box.checked = ev.target.checked;
          if (box.checked) selected.add(box.value);
          else selected.delete(box.value);
        }
        paintCount();
      },
    });
    const columns = decided
      ? ["Feedback", "Type", "Memory", "Texts", "User", "Status", "Decided by", "Reason", "Decided"]
      : [pickAll, "Feedback", "Type", "Memory", "Texts", "User", "Namespace", "Received", "Decision"];
    list.replaceChildren(
      h("p", { class: "hint shown" }, `Showing ${items.length} of ${data.feedback.totalCount ?? items.length}${decided ? " decided" : " waiting"}.`),
      table(
        columns,
        items.map((f) =>
          decided
            ? h(
                "tr",
                { "data-feedback": f.id },
                h("td", {}, nodeLink(f.id)),
                h("td", {}, f.feedbackType),
                h("td", {}, nodeLink(f.memoryRefId), h("br"), h("span", { class: "small" }, `${f.ref.backend} ${f.ref.refType}`)),
                h("td", { class: "texts" }, reviewTexts(f)),
                h("td", {}, f.userId),
                h("td", {}, badge(f.status)),
                h("td", {}, f.reviewedBy || "—"),
                h("td", { class: "wrap" }, f.reviewReason || "—"),
                h("td", {}, time(f.reviewedAt)),
              )
            : h(
                "tr",
                { "data-feedback": f.id },
                h(
                  "td",
                  {},
                  h("input", {
                    type: "checkbox",
                    class: "pick",
                    value: f.id,
                    "aria-label": "Select " + f.id,
                    checked: selected.has(f.id),
                    onchange: (ev) => {
                      if (ev.target.checked) selected.add(f.id);
                      else selected.delete(f.id);
                      paintCount();
                    },
                  }),
                ),
                h("td", {}, nodeLink(f.id)),
                h("td", {}, f.feedbackType),
                h("td", {}, nodeLink(f.memoryRefId), h("br"), h("span", { class: "small" }, `${f.ref.backend} ${f.ref.refType}`)),
                h("td", { class: "texts" }, reviewTexts(f)),
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
        { "aria-label": decided ? "Decided feedback" : "Corrections and delete requests waiting for review" },
      ),
    );
  };
  await load();
}

// ---- Failed writes ----

async function failedWritesPage(main, params, _arg, onLeave) {
  main.append(
    filterForm("/failed-writes", params, [{ name: "workspace", label: "Workspace" }]),
    h("p", { class: "hint" }, "Turns whose write to a backend failed: each heals through the outbox until its ref succeeds or its event is dead-lettered."),
  );
  const workspaceId = params.get("workspace") || null;
  const body = h("div");
  main.append(body);
  const load = async () => {
    const data = await query(DOCS.heals, { ws: workspaceId });
    const dead = "/dead-letters" + (workspaceId ? "?workspace=" + encodeURIComponent(workspaceId) : "");
    body.replaceChildren(
      table(
        ["Backend", "Failed refs", "Healing", "Dead-lettered", "Cannot heal"],
        data.ingestHeals.map((b) =>
          h(
            "tr",
            { "data-backend": b.backend },
            h("td", {}, b.backend),
            h("td", { "data-count": "failed" }, b.failedRefs),
            h("td", { "data-count": "healing" }, b.healing),
            h("td", { "data-count": "dead" }, b.deadLettered ? link(dead, String(b.deadLettered)) : 0),
            h("td", { "data-count": "unhealable", title: "no backend holds the turn's content, or the backend refused it for good: only sending the turn again writes it" }, b.unhealable),
          ),
        ),
        { "aria-label": "Failed writes per backend" },
      ),
    );
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), REFRESH_MS);
  onLeave(() => clearInterval(timer));
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
    const metrics = (await query(DOCS.backendMetrics)).backendMetrics;
    const trends = metricTrends(metrics);
    body.replaceChildren(
      table(
        ["Backend", "Health", "Breaker", "Latency", "Calls per second", "Latency p95", "Pending", "Processing", "Success", "Skipped", "Dead letters", "Error"],
        data.backends.map((b) => {
          const s = sums.get(b.backend) || {};
          return h(
            "tr",
            { "data-backend": b.backend },
            h("td", {}, b.backend),
            h("td", {}, badge(b.healthy ? "HEALTHY" : "UNHEALTHY")),
            h("td", {}, badge(b.breakerState)),
            h("td", {}, b.latencyMs == null ? "—" : b.latencyMs + " ms"),
            h("td", { "data-trend": "throughput" }, trendCell(trends.get(b.backend), "throughput", metrics)),
            h("td", { "data-trend": "latency" }, trendCell(trends.get(b.backend), "latency", metrics)),
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
      h("p", { class: "hint", "data-trend-source": metrics.source },
        `Sparklines: replica ${metrics.replica}'s own metrics (${metrics.source}), one point every ${metrics.intervalSeconds} s over the last ${metrics.windowSeconds >= 120 ? Math.round(metrics.windowSeconds / 60) + " min" : metrics.windowSeconds + " s"}, writes and retrievals apart. Each replica keeps its own window: behind a load balancer, a refresh may show another replica.`),
    );
    stamp.textContent = "Refreshed " + new Date().toLocaleTimeString() + "; again every " + REFRESH_MS / 1000 + " s.";
  };
  await load();
  const timer = setInterval(() => load().catch(() => {}), REFRESH_MS);
  onLeave(() => clearInterval(timer));
}

const TREND_KINDS = [
  ["WRITE", "writes"],
  ["RETRIEVE", "retrievals"],
];

// metricTrends indexes the replica's backend-call series by backend, then
// by kind of call.
function metricTrends(metrics) {
  const out = new Map();
  for (const series of metrics.backends) {
    if (!out.has(series.backend)) out.set(series.backend, new Map());
    out.get(series.backend).set(series.kind, series.points);
  }
  return out;
}

// trendCell draws a backend's calls per second (throughput) or p95 latency
// (latency), a sparkline per kind of call, each told whose metrics it shows.
function trendCell(byKind, trend, metrics) {
  const lines = [];
  for (const [kind, label] of TREND_KINDS) {
    const points = byKind?.get(kind) || [];
    const values =
      trend === "throughput"
        ? points.map((p) => Math.round(p.callsPerSecond * 100) / 100)
        : points.filter((p) => p.p95Ms != null).map((p) => Math.round(p.p95Ms * 10) / 10);
    if (!values.length) continue;
    const unit = trend === "throughput" ? "calls/s" : "ms p95";
    lines.push(h("div", { class: "trend", "data-kind": kind }, h("span", { class: "hint" }, label + " "),
      sparkline(values, unit, `${label} on replica ${metrics.replica} (${metrics.source})`)));
  }
  return lines.length ? lines : "—";
}

// sparkline draws values as a small line, told in words for screen readers
// and in its title.
function sparkline(values, unit, source) {
  if (!values.length) return "—";
  const w = 90;
  const ht = 20;
  const max = Math.max(1, ...values);
  const step = values.length > 1 ? w / (values.length - 1) : 0;
  const points = values.map((v, i) => `${(i * step).toFixed(1)},${(ht - 1 - (v / max) * (ht - 2)).toFixed(1)}`).join(" ");
  const words = `${source}: last ${values.at(-1)} ${unit}, highest ${Math.max(...values)} ${unit} over ${values.length} points`;
  return s("svg", { class: "spark", width: w, height: ht, viewBox: `0 0 ${w} ${ht}`, role: "img", "aria-label": words, "data-points": values.length },
    s("title", {}, words), s("polyline", { points: values.length > 1 ? points : `0,${ht / 2} ${w},${ht / 2}` }));
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

// hasPage tells whether an id names a node with a page of its own; a
// gateway id, provenance id or a backend's native id does not.
const COPY_ONLY = new Set(["nativeId", "nativeUri", "gatewayId", "provenanceId", "turnId", "lockedBy"]);

function hasPage(id) {
  return ID_PAGES.some(([prefix]) => id.startsWith(prefix));
}

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
    else if (k !== "id" && /Id$/.test(k) && typeof v === "string" && hasPage(v)) value = nodeLink(v);
    else if (k === "sessionId" && node.workspaceId) value = link(`/session?workspace=${encodeURIComponent(node.workspaceId)}&session=${encodeURIComponent(v)}`, v);
    else if (COPY_ONLY.has(k)) value = copyable(String(v));
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
