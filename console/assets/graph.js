// The session graph drawn as SVG: turns → refs per backend → jobs → events
// → feedback, in columns; every node links to its own page.
import { h, s } from "./dom.js";

const COLUMNS = ["Turns", "Refs", "Jobs", "Events", "Feedback"];
const NODE_W = 190;
const NODE_H = 34;
const GAP_X = 50;
const GAP_Y = 12;
const TOP = 30;

// draw returns an <svg> of the graph: nodes [{id, column, label, sub,
// href}] and edges [[fromID, toID]].
export function draw(nodes, edges) {
  const rows = COLUMNS.map(() => 0);
  const place = new Map();
  for (const n of nodes) {
    const x = n.column * (NODE_W + GAP_X);
    const y = TOP + rows[n.column] * (NODE_H + GAP_Y);
    rows[n.column]++;
    place.set(n.id, { x, y, n });
  }
  const width = COLUMNS.length * (NODE_W + GAP_X) - GAP_X;
  const height = TOP + Math.max(1, ...rows) * (NODE_H + GAP_Y);
  const svg = s("svg", {
    viewBox: `0 0 ${width} ${height}`,
    width,
    height,
    role: "img",
    "aria-label": "Session graph",
    class: "graph",
  });
  COLUMNS.forEach((c, i) => svg.append(s("text", { x: i * (NODE_W + GAP_X), y: 16, class: "col" }, c)));
  for (const [from, to] of edges) {
    const a = place.get(from);
    const b = place.get(to);
    if (!a || !b) continue;
    const x1 = a.x + NODE_W;
    const y1 = a.y + NODE_H / 2;
    const x2 = b.x;
    const y2 = b.y + NODE_H / 2;
    const mid = (x1 + x2) / 2;
    svg.append(s("path", { d: `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`, class: "edge" }));
  }
  // Each node is an HTML link in a foreignObject, so CSS fits its label
  // to the box (ellipsis) and its title tells the whole of it.
  for (const { x, y, n } of place.values()) {
    svg.append(
      s(
        "foreignObject",
        { x, y, width: NODE_W, height: NODE_H },
        h(
          "a",
          { href: n.href, class: "node " + (n.status || "").toLowerCase(), "data-node": n.id, title: n.sub && n.sub !== n.label ? `${n.label} — ${n.sub}` : n.label },
          h("span", { class: "label" }, n.label),
          h("span", { class: "sub" }, n.sub || ""),
        ),
      ),
    );
  }
  return svg;
}
