// The leaderboard page: fetch /api/leaderboard, draw ratings with their intervals and the
// win-rate heatmap, and keep them current (a poll every few seconds while the tab is visible,
// and at once when it regains focus). Everything is built with DOM calls, never innerHTML.

import { request } from "../lib/api.js";
import { renderSeparation } from "../leaderboard/separation.js";
import { rawCell, renderStyle } from "../leaderboard/style-control.js";

const SVG = "http://www.w3.org/2000/svg";
const BAR_WIDTH = 240;
const BAR_HEIGHT = 18;

const main = document.querySelector("#main");
const form = document.querySelector("#leaderboard-filters");
const summary = document.querySelector("#leaderboard-summary");
const errorBox = document.querySelector("#leaderboard-error");
const ratingsBody = document.querySelector("#ratings tbody");
const ratingsEmpty = document.querySelector("#ratings-empty");
const allTies = document.querySelector("#all-ties");
const ciScale = document.querySelector("#ci-scale");
const heatmapHead = document.querySelector("#heatmap thead");
const heatmapBody = document.querySelector("#heatmap tbody");
const unitHeading = document.querySelector("#unit-heading");
const passRateHeading = document.querySelector("#pass-rate-heading");
const testedUnrated = document.querySelector("#tested-unrated");
const separation = document.querySelector("#separation");

const pollSeconds = Number(main.dataset.pollSeconds) || 5;
const rounds = main.dataset.rounds || "300";
let lastBody = null;
let inFlight = null;

function element(tag, { className, text, title, attributes } = {}) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  if (title) node.title = title;
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  return node;
}

function svg(tag, attributes) {
  const node = document.createElementNS(SVG, tag);
  for (const [name, value] of Object.entries(attributes)) node.setAttribute(name, String(value));
  return node;
}

function query() {
  const params = new URLSearchParams({ rounds });
  for (const [name, value] of new FormData(form)) {
    if (!value || (name === "source" && value === "all")) continue;
    // A date means that whole day in UTC: `until` is exclusive, so it moves to the next day.
    if (name === "since") params.set(name, `${value}T00:00:00Z`);
    else if (name === "until") params.set(name, new Date(Date.parse(`${value}T00:00:00Z`) + 86400000).toISOString());
    else params.set(name, value);
  }
  return `/api/leaderboard?${params}`;
}

function fixed(value) {
  return value === null || value === undefined ? "–" : value.toFixed(0);
}

/** Scale shared by every row's bar, so bars can be compared by eye. */
function scaleFor(rows) {
  const values = rows.flatMap((row) => [row.ci_low ?? row.rating, row.ci_high ?? row.rating, row.rating]);
  let low = Math.min(...values);
  let high = Math.max(...values);
  const pad = Math.max((high - low) * 0.05, 5);
  low -= pad;
  high += pad;
  const scale = (value) => ((value - low) / (high - low)) * BAR_WIDTH;
  scale.low = low;
  scale.high = high;
  return scale;
}

/** Hover text for a contestant: its readable name, then the full id it is stored under. */
function fullName(name, id) {
  return name === id ? id : `${name}\n${id}`;
}

/** "83% (10/12)": promptfoo tests passed, with the count. */
function passRateText(rate) {
  return `${Math.round(rate.rate * 100)}% (${rate.passed}/${rate.total})`;
}

function passRateCell(row) {
  const rate = row.pass_rate;
  return element("td", {
    className: "number pass-rate",
    text: rate ? passRateText(rate) : "–",
    title: rate ? `${row.name}: ${rate.passed} of ${rate.total} promptfoo tests passed` : `${row.name} ran no promptfoo tests`,
  });
}

/** Contestants with tests but no battle yet have no row: they are listed under the table. */
function renderTestedUnrated(data) {
  const rated = new Set(data.rows.map((row) => row.model));
  const others = (data.pass_rates || []).filter((rate) => !rated.has(rate.model));
  testedUnrated.hidden = others.length === 0;
  testedUnrated.textContent = others.length
    ? `Tests passed, not rated yet (no battles): ${others.map((rate) => `${rate.name} ${passRateText(rate)}`).join(" · ")}`
    : "";
}

function intervalBar(row, scale) {
  const label = row.ci_low === null
    ? `${row.name}: rating ${fixed(row.rating)}, no interval`
    : `${row.name}: 95% interval ${fixed(row.ci_low)} to ${fixed(row.ci_high)}, rating ${fixed(row.rating)}`;
  const bar = svg("svg", {
    class: "ci-bar",
    viewBox: `0 0 ${BAR_WIDTH} ${BAR_HEIGHT}`,
    role: "img",
    "aria-label": label,
  });
  bar.append(svg("line", { class: "ci-track", x1: 0, x2: BAR_WIDTH, y1: BAR_HEIGHT / 2, y2: BAR_HEIGHT / 2 }));
  if (row.ci_low !== null && row.ci_high !== null) {
    const x = scale(row.ci_low);
    bar.append(svg("rect", {
      class: "ci-range", x, y: 4, width: Math.max(scale(row.ci_high) - x, 1), height: BAR_HEIGHT - 8, rx: 3,
      "data-low": row.ci_low, "data-high": row.ci_high,
    }));
  }
  bar.append(svg("circle", { class: "ci-point", cx: scale(row.rating), cy: BAR_HEIGHT / 2, r: 4 }));
  return bar;
}

function renderRatings(data) {
  const scale = scaleFor(data.rows);
  ratingsBody.replaceChildren(...data.rows.map((row) => {
    const tr = element("tr", { attributes: { "data-model": row.model } });
    tr.append(
      element("td", { className: "rank", text: String(row.rank) }),
      element("th", { className: "model", text: row.name, title: fullName(row.name, row.model), attributes: { scope: "row" } }),
      element("td", { className: "number", text: fixed(row.rating) }),
    );
    if (row.provisional) { // too few battles to rank: a tag beside the name (CSS), the reason on hover
      tr.classList.add("provisional");
      const name = tr.querySelector("th.model");
      name.title = `${name.title}\nProvisional: ${row.provisional_reason}`;
    }
    const bar = element("td", { className: "ci-column" });
    bar.append(intervalBar(row, scale));
    tr.append(
      bar,
      ...rawCell(data, row),
      element("td", { className: "number elo", text: fixed(row.elo) }),
      element("td", { className: "number battles", text: String(row.battles) }),
      element("td", {
        className: "number record",
        text: `${row.wins} · ${row.losses} · ${row.ties} · ${row.both_bad}`,
      }),
    );
    if (data.pass_rates) tr.append(passRateCell(row));
    return tr;
  }));
  passRateHeading.hidden = !data.pass_rates;
  renderStyle(data);
  renderTestedUnrated(data);
  unitHeading.textContent = data.filters.by === "instance" ? "Instance" : "Model";
  ratingsEmpty.hidden = data.rows.length > 0;
  // All ties, unreliable judges, provisional rows: what the intervals alone would overstate.
  allTies.replaceChildren(...(data.notes || []).map((note) => element("span", { className: "board-note", text: note })));
  allTies.hidden = !(data.notes || []).length;
  ciScale.textContent = data.rows.length ? `(scale ${fixed(scale.low)} to ${fixed(scale.high)})` : "";
}

/** Columns carry the rows' numbers (short and distinct however long the names); the row
 * headers say which name each number stands for, and every header's title gives it in full. */
function renderHeatmap(data) {
  const names = data.names;
  const head = element("tr");
  head.append(element("th", { className: "corner", text: "row vs column", attributes: { scope: "col" } }));
  data.models.forEach((model, j) => {
    head.append(element("th", {
      className: "model number-label",
      text: String(j + 1),
      title: `${j + 1}: ${fullName(names[j], model)}`,
      attributes: { scope: "col", "aria-label": `${j + 1}: ${names[j]}`, "data-model": model },
    }));
  });
  heatmapHead.replaceChildren(...(data.models.length ? [head] : []));
  heatmapBody.replaceChildren(...data.models.map((model, i) => {
    const tr = element("tr");
    const header = element("th", { className: "model", title: fullName(names[i], model), attributes: { scope: "row" } });
    header.append(element("span", { className: "number-label", text: String(i + 1) }), element("span", { text: names[i] }));
    tr.append(header);
    data.models.forEach((other, j) => {
      const rate = data.win_rate[i][j];
      const count = data.counts[i][j];
      if (i === j) {
        tr.append(element("td", { className: "cell self", text: "—" }));
      } else if (rate === null) {
        tr.append(element("td", { className: "cell empty", text: "", title: `${names[i]} has not met ${names[j]}` }));
      } else {
        const cell = element("td", {
          className: "cell",
          text: `${Math.round(rate * 100)}%`,
          title: `${names[i]} against ${names[j]}: ${Math.round(rate * 100)}% of ${count} battle${count === 1 ? "" : "s"}`,
          attributes: { "data-rate": rate.toFixed(4), "data-count": String(count) },
        });
        cell.style.setProperty("--rate", rate.toFixed(4)); // CSSOM: allowed by the page's CSP
        tr.append(cell);
      }
    });
    return tr;
  }));
}

function keepChoices(select, values, anyLabel) {
  const chosen = select.value;
  const options = [element("option", { text: anyLabel, attributes: { value: "" } })];
  for (const value of values) options.push(element("option", { text: value, attributes: { value } }));
  if (chosen && !values.includes(chosen)) options.push(element("option", { text: chosen, attributes: { value: chosen } }));
  select.replaceChildren(...options);
  select.value = chosen;
}

function render(data) {
  keepChoices(form.elements.judge_model, data.judge_models, "Any judge");
  keepChoices(form.elements.category, data.categories, "Any category");
  renderRatings(data);
  renderSeparation(separation, separation.querySelector("ul"), data.rows);
  renderHeatmap(data);
  const bySource = Object.entries(data.battles_by_source).map(([source, n]) => `${n} ${source}`).join(", ");
  const total = data.total_battles;
  // with style control: the battles the table rates, and how many it could not (answers unknown)
  const leftOut = data.style ? data.style.battles_without_style : 0;
  const without = leftOut ? ` · ${leftOut} left out by style control (their answers are not known)` : "";
  summary.textContent = `${total} battle${total === 1 ? "" : "s"} (${bySource})${without} · updated ${new Date().toLocaleTimeString()}`;
  summary.dataset.totalBattles = String(total);
}

async function refresh() {
  if (inFlight) return inFlight; // one request at a time; a newer filter waits for it
  inFlight = (async () => {
    try {
      const response = await request("GET", query());
      const body = await response.text();
      errorBox.hidden = true;
      if (body !== lastBody) {
        lastBody = body;
        render(JSON.parse(body));
      }
    } catch (error) {
      errorBox.textContent = error.message;
      errorBox.hidden = false;
    } finally {
      inFlight = null;
    }
  })();
  return inFlight;
}

form.addEventListener("change", async () => {
  await inFlight;
  lastBody = null;
  refresh();
});
form.addEventListener("submit", (event) => event.preventDefault());
window.addEventListener("focus", () => refresh());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") refresh();
});
setInterval(() => {
  if (document.visibilityState === "visible") refresh();
}, pollSeconds * 1000);
refresh();
