// The judges page: fetch /api/judges and show each judge model's consistency, position bias, ties
// and agreement with humans; a flagged judge gets its row marked and its advice above the table.

import { requestJson } from "../lib/api.js";
import { byId, clear, el, showError } from "../lib/dom.js";

const percent = (value) => (value === null || value === undefined ? "–" : `${Math.round(value * 100)}%`);
const kappa = (value) => (value === null || value === undefined ? "–" : value.toFixed(2));

function row(judge) {
  const humans = judge.humans;
  const name = el("td", { class: "model" }, judge.judge_model);
  if (judge.unreliable) name.append(el("span", { class: "judge-flag", title: judge.advice }, "unreliable"));
  return el("tr", { class: judge.unreliable ? "unreliable" : null, dataset: { judge: judge.judge_model } },
    name,
    el("td", { class: "number" }, String(judge.pairs)),
    el("td", { class: "number consistency" }, percent(judge.consistency)),
    el("td", { class: "number" }, percent(judge.first_position)),
    el("td", { class: "number" }, percent(judge.always_first)),
    el("td", { class: "number" }, percent(judge.tie_rate)),
    el("td", { class: "number" }, String(humans.compared)),
    el("td", { class: "number agreement" }, percent(humans.agreement)),
    el("td", { class: "number" }, kappa(humans.kappa)),
    el("td", { class: "number" }, percent(humans.agreement_without_ties)),
    el("td", { class: "number" }, kappa(humans.kappa_without_ties)));
}

async function load() {
  try {
    const { judges } = await requestJson("GET", "/api/judges");
    clear(document.querySelector("#judges tbody")).append(...judges.map(row));
    byId("judges-empty").hidden = judges.length > 0;
    const flagged = judges.filter((judge) => judge.unreliable);
    clear(byId("judges-warnings")).append(...flagged.map((judge) => el("p", { class: "judge-warning", role: "note" }, `⚠ ${judge.advice}`)));
    const pairs = judges.reduce((sum, judge) => sum + judge.pairs, 0);
    byId("judges-summary").textContent = `${judges.length} judge${judges.length === 1 ? "" : "s"} · ${pairs} pairs judged in both orders`;
    showError(byId("judges-error"), "");
  } catch (error) {
    byId("judges-summary").textContent = "";
    showError(byId("judges-error"), `Could not load the judges: ${error.message}`);
  }
}

load();
