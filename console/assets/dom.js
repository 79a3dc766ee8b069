// Small DOM helpers: elements are built, never parsed from strings, so no
// text from the API can become markup.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : String(v));
  }
  append(el, children);
  return el;
}

const SVG = "http://www.w3.org/2000/svg";

export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null) continue;
    el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// link is an anchor to a console route.
export function link(route, text, attrs = {}) {
  return h("a", { href: "#" + route, ...attrs }, text ?? route);
}

// nodeLink links an id to its own page.
export function nodeLink(id) {
  return id ? link("/node/" + encodeURIComponent(id), id, { class: "id" }) : "—";
}

export function badge(status) {
  return h("span", { class: "badge " + String(status || "").toLowerCase(), "data-status": status }, status || "—");
}

export function time(value) {
  if (!value) return "—";
  const d = new Date(value);
  return h("time", { datetime: value, title: value }, d.toLocaleString());
}

export function table(columns, rows, attrs = {}) {
  return h(
    "div",
    { class: "table-wrap" },
    h(
      "table",
      attrs,
      h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col" }, c)))),
      h("tbody", {}, rows.length ? rows : h("tr", {}, h("td", { colspan: columns.length, class: "empty" }, "Nothing here."))),
    ),
  );
}

// confirmButton asks for a second click before it acts: the action runs
// only from the confirmation, which the keyboard reaches too.
export function confirmButton(label, question, action) {
  const wrap = h("span", { class: "confirm" });
  const ask = h("button", {
    type: "button",
    onclick: () => {
      wrap.replaceChildren(
        h("span", { class: "question" }, question + " "),
        h("button", {
          type: "button",
          class: "danger",
          onclick: async (ev) => {
            ev.target.disabled = true;
            try {
              await action();
            } finally {
              wrap.replaceChildren(ask);
            }
          },
        }, "Confirm"),
        " ",
        h("button", { type: "button", onclick: () => wrap.replaceChildren(ask) }, "Cancel"),
      );
      wrap.querySelector("button.danger").focus();
    },
  }, label);
  wrap.append(ask);
  return wrap;
}

// duration tells a span of milliseconds briefly: 850 ms, 12.3 s, 4 min 5 s,
// 2 h 3 min.
export function duration(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "—";
  if (ms < 1000) return Math.max(0, Math.round(ms)) + " ms";
  const s = ms / 1000;
  if (s < 60) return s.toFixed(1) + " s";
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${Math.floor(s % 60)} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

// between is the milliseconds from one timestamp to another (to: now when
// absent), or null without a start.
export function between(from, to) {
  if (!from) return null;
  return (to ? new Date(to) : new Date()) - new Date(from);
}

// clipped is text cut to its box by CSS (ellipsis), whole in its title.
export function clipped(text, attrs = {}) {
  return h("span", { class: "clip", title: text, ...attrs }, text);
}

// copyable shows an id that has no page of its own as text, with a button
// that copies it.
export function copyable(value) {
  const button = h("button", {
    type: "button",
    class: "copy small",
    "aria-label": "Copy " + value,
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(value);
        button.textContent = "Copied";
      } catch {
        button.textContent = "Select and copy";
      }
    },
  }, "Copy");
  return h("span", { class: "copyable" }, h("code", { class: "id" }, value), " ", button);
}
