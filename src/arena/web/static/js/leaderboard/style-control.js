// Style control on the leaderboard page: the raw rating beside the style-controlled one, and
// the style coefficients (GET /api/leaderboard?style_control=true). DOM calls only, no innerHTML.

const rawHeading = document.querySelector("#raw-heading");
const panel = document.querySelector("#style-panel");
const coefficientsBody = document.querySelector("#style-coefficients tbody");
const leftOut = document.querySelector("#style-left-out");

const LABELS = { length: "Length (characters)", headers: "Headers", lists: "List items", bold: "Bold spans" };

function cell(tag, text, { className, title } = {}) {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  if (title) node.title = title;
  return node;
}

function signed(value) {
  return value === null || value === undefined ? "–" : `${value >= 0 ? "+" : "−"}${Math.abs(value).toFixed(3)}`;
}

/** The raw-rating cell of a row: "1043 (#3)", or nothing without style control. */
export function rawCell(data, row) {
  if (!data.style) return [];
  const moved = row.raw_rank === row.rank ? "" : ` · ranked ${row.raw_rank} without style control`;
  return [cell("td", `${row.raw_rating.toFixed(0)} (#${row.raw_rank})`, {
    className: "number raw-rating",
    title: `${row.name}: ${row.raw_rating.toFixed(0)} by plain Bradley–Terry on the same battles${moved}`,
  })];
}

/** Shows or hides the raw column's heading and the coefficients panel. */
export function renderStyle(data) {
  const style = data.style;
  rawHeading.hidden = !style;
  panel.hidden = !style;
  if (!style) return;
  coefficientsBody.replaceChildren(...style.coefficients.map((coefficient) => {
    const tr = document.createElement("tr");
    tr.dataset.style = coefficient.name;
    const interval = coefficient.ci_low === null ? "–" : `${signed(coefficient.ci_low)} to ${signed(coefficient.ci_high)}`;
    tr.append(
      cell("th", LABELS[coefficient.name] || coefficient.name),
      coefficient.value === null // no answer differed in it: "+0.000" would read as "no effect"
        ? cell("td", "not estimable", { className: "coefficient", title: coefficient.not_estimable })
        : cell("td", signed(coefficient.value), { className: "number coefficient" }),
      cell("td", interval, { className: "number" }),
    );
    return tr;
  }));
  const count = style.battles_without_style;
  leftOut.hidden = count === 0;
  leftOut.textContent = count
    ? `${count} battle${count === 1 ? "" : "s"} left out: the answers behind them are not known (e.g. verdicts stored before the arena recorded which answers were judged).`
    : "";
}
