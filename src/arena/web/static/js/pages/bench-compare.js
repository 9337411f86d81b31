// The benchmarks page's "Compare two contestants" panel: GET /api/bench/compare for two runs (each
// run's instance the other lacks) or two instances of one run, and the statistics in words.

import { requestJson } from "../lib/api.js";
import { byId, el, showError } from "../lib/dom.js";

const signed = (value, digits = 3) => (value === null ? "–" : `${value >= 0 ? "+" : ""}${value.toFixed(digits)}`);

function lines(c) {
  const basis = c.basis === "direct" ? "judged against each other" : "points against their opponents";
  const out = [
    `A: ${c.label_a} (run ${c.run_a.slice(0, 8)})`,
    `B: ${c.label_b} (run ${c.run_b.slice(0, 8)})`,
    `${c.prompts} prompts paired (${basis}): A better on ${c.better_a}, B better on ${c.better_b}, even on ${c.even}`,
  ];
  if (c.prompts) {
    out.push(
      `Sign test (exact, two-sided): p = ${c.sign_test_p === null ? "–" : c.sign_test_p.toPrecision(4)}`,
      `Mean difference (A − B, −1 to +1): ${signed(c.mean_difference)}, 95% paired bootstrap interval ${signed(c.ci_low)} to ${signed(c.ci_high)}`,
      `Effect size: Cohen's d_z = ${signed(c.cohens_dz, 2)}`,
      c.separated
        ? `Separated: the interval excludes 0 (${c.mean_difference > 0 ? "A" : "B"} is better)`
        : c.judge_unreliable
          ? `Not separated: the judge could not tell them apart — its verdict flipped when the answers swapped places on ${c.flipped_pairs} of ${c.judged_pairs} pairs (each flip counts as a tie); more prompts with this judge would not help: use a bigger judge model`
          : c.prompts_needed === null
            ? "Not separated, and no difference seen: more prompts would not separate them"
            : `Not separated: at this effect about ${c.prompts_needed} prompts would separate them 4 times in 5 (80% power; ${c.more_prompts} more)`,
    );
  }
  return [...out, ...c.notes.map((note) => `Note: ${note}`)];
}

async function compare(event) {
  event.preventDefault();
  const form = event.target;
  const params = new URLSearchParams();
  for (const [name, value] of new FormData(form)) if (value.trim()) params.set(name, value.trim());
  const error = byId("compare-error");
  const result = byId("compare-result");
  try {
    const body = await requestJson("GET", `/api/bench/compare?${params}`);
    showError(error, "");
    result.replaceChildren(...lines(body).map((line) => el("li", {}, line)));
    result.hidden = false;
  } catch (failure) {
    result.hidden = true;
    showError(error, failure.message);
  }
}

byId("compare-form").addEventListener("submit", compare);
