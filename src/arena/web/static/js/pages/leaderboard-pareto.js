// The leaderboard's "quality against speed and memory" panel: fetch /api/leaderboard/pareto with
// the page's filters (a category gives that category's ratings) and draw one scatter per chart:
// rating up, tokens/s or size across; Pareto-optimal contestants filled and joined by the frontier.
// Built with DOM calls, never innerHTML; refreshed when the filters change and with the board's poll.

import { request } from "../lib/api.js";

const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 560;
const HEIGHT = 300;
const PAD = { left: 56, right: 24, top: 16, bottom: 44 };

const main = document.querySelector("#main");
const form = document.querySelector("#leaderboard-filters");
const box = document.querySelector("#pareto-charts");
const errorBox = document.querySelector("#pareto-error");
const pollSeconds = Number(main.dataset.pollSeconds) || 5;
let lastBody = null;

function element(tag, { className, text } = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function svg(tag, attributes, text) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

function query() {
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) {
    if (!value || (name === "source" && value === "all")) continue;
    if (name === "since") params.set(name, `${value}T00:00:00Z`);
    else if (name === "until") params.set(name, new Date(Date.parse(`${value}T00:00:00Z`) + 86400000).toISOString());
    else params.set(name, value);
  }
  return `/api/leaderboard/pareto?${params}`;
}

/** [divisor, unit]: tokens/s as they are, bytes in MB or GB. */
function unitOf(chart) {
  if (chart.axis === "tokens_per_sec") return [1, "tokens/s"];
  const top = Math.max(0, ...chart.points.map((p) => p.value));
  return top >= 1e9 ? [1e9, "GB"] : [1e6, "MB"];
}

function niceTicks(low, high, count = 5) {
  if (high <= low) high = low + 1;
  const raw = (high - low) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw);
  const ticks = [];
  for (let i = Math.floor(low / step + 1e-9); i <= Math.ceil(high / step - 1e-9); i += 1) ticks.push(+(i * step).toPrecision(10));
  return ticks;
}

function scatter(chart) {
  const [divisor, unit] = unitOf(chart);
  const xs = chart.points.map((p) => p.value / divisor);
  const ys = chart.points.map((p) => p.rating);
  const xTicks = niceTicks(0, Math.max(...xs) * 1.05 || 1);
  const pad = Math.max(10, (Math.max(...ys) - Math.min(...ys)) * 0.1);
  const yTicks = niceTicks(Math.min(...ys) - pad, Math.max(...ys) + pad);
  const x = (v) => PAD.left + ((v - xTicks[0]) / (xTicks.at(-1) - xTicks[0])) * (WIDTH - PAD.left - PAD.right);
  const y = (v) => HEIGHT - PAD.bottom - ((v - yTicks[0]) / (yTicks.at(-1) - yTicks[0])) * (HEIGHT - PAD.top - PAD.bottom);
  const better = chart.more_is_better ? "more is better" : "less is better";
  const plot = svg("svg", { class: "pareto-plot", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": `${chart.title}: rating against ${unit}` });
  for (const tick of xTicks) {
    plot.append(svg("line", { class: "grid", x1: x(tick), x2: x(tick), y1: PAD.top, y2: HEIGHT - PAD.bottom }));
    plot.append(svg("text", { class: "tick", x: x(tick), y: HEIGHT - PAD.bottom + 14, "text-anchor": "middle" }, String(tick)));
  }
  for (const tick of yTicks) {
    plot.append(svg("line", { class: "grid", x1: PAD.left, x2: WIDTH - PAD.right, y1: y(tick), y2: y(tick) }));
    plot.append(svg("text", { class: "tick", x: PAD.left - 6, y: y(tick) + 4, "text-anchor": "end" }, String(tick)));
  }
  plot.append(svg("text", { class: "axis", x: (PAD.left + WIDTH - PAD.right) / 2, y: HEIGHT - 8, "text-anchor": "middle" }, `${unit} (${better})`));
  const frontier = chart.points.map((p, i) => [xs[i], ys[i], p.optimal]).filter((p) => p[2]).sort((a, b) => a[0] - b[0]);
  if (frontier.length > 1) {
    plot.append(svg("polyline", { class: "frontier", points: frontier.map(([a, b]) => `${x(a)},${y(b)}`).join(" ") }));
  }
  chart.points.forEach((point, i) => {
    const dot = svg("circle", { class: point.optimal ? "optimal" : "dominated", cx: x(xs[i]), cy: y(ys[i]), r: 5, "data-key": point.key });
    const answers = point.answers ? `, ${point.answers} answers` : "";
    dot.append(svg("title", {}, `${point.name}: rating ${point.rating.toFixed(0)}, ${xs[i].toPrecision(3)} ${unit}${answers}${point.optimal ? " (Pareto-optimal)" : ""}`));
    // A name near the right edge goes to the dot's left, so it is not cut off.
    const left = x(xs[i]) > WIDTH * 0.65;
    const at = { class: "point-label", x: x(xs[i]) + (left ? -8 : 8), y: y(ys[i]) - 6, "text-anchor": left ? "end" : "start" };
    plot.append(dot, svg("text", at, point.name));
  });
  return plot;
}

function figure(chart) {
  const node = element("figure", { className: "pareto-chart" });
  node.dataset.axis = chart.axis;
  node.append(element("h3", { text: chart.title }));
  const [, unit] = unitOf(chart);
  const what = { tokens_per_sec: "tokens/s", disk_bytes: "Size on disk", resident_bytes: "Resident memory" }[chart.axis];
  if (chart.points.length) node.append(scatter(chart));
  const optimal = chart.points.filter((p) => p.optimal).sort((a, b) => b.rating - a.rating).map((p) => p.name);
  const caption = element("figcaption");
  caption.append(element("span", {
    className: "pareto-optimal",
    text: !chart.points.length
      ? `${what}: unknown for every rated contestant`
      : chart.no_signal
        ? "Every battle is a tie: the ratings cannot tell these contestants apart"
        : `Pareto-optimal: ${optimal.join(", ")}`,
  }));
  if (chart.points.length && chart.unknown.length) caption.append(element("span", { className: "pareto-unknown", text: ` · ${unit} unknown: ${chart.unknown.join(", ")}` }));
  node.append(caption);
  return node;
}

function render(data) {
  // A size axis no engine reported is one line, not an empty chart.
  const shown = data.charts.filter((chart) => chart.points.length || chart.axis === "tokens_per_sec" || chart.unknown.length);
  box.replaceChildren(...(shown.length ? shown.map(figure) : [element("p", { className: "leaderboard-empty", text: "No ratings to chart yet." })]));
}

let latest = 0;

async function refresh() {
  const mine = ++latest; // an answer to older filters that arrives late is dropped, never drawn
  try {
    const response = await request("GET", query());
    const body = await response.text();
    if (mine !== latest) return;
    errorBox.hidden = true;
    if (body !== lastBody) {
      lastBody = body;
      render(JSON.parse(body));
    }
  } catch (error) {
    if (mine !== latest) return;
    errorBox.textContent = error.message;
    errorBox.hidden = false;
  }
}

form.addEventListener("change", () => refresh());
setInterval(() => {
  if (document.visibilityState === "visible") refresh();
}, pollSeconds * 3000); // the speeds and sizes move slowly: a third of the board's pace
refresh();
