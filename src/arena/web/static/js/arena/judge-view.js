// What the judge area under a turn shows: a run in progress (which comparison, which order,
// tokens so far, Cancel), its errors, and every run's verdicts, newest first. Judge text goes in
// as text only. `nameOf(key)` names an answer as its card does.

import { el, showError } from "../lib/dom.js";

export const EARLIER_ANSWER = "About an earlier answer: regenerated since. It is kept, and counts as a battle between the answers it judged.";
const MODE_TITLES = { pairwise: "Pairwise verdict", single: "Grades", reference: "Grades against the reference" };

/** A stored time as a Date: the server's times are UTC, with or without their offset. */
function parseTime(isoText) {
  return new Date(isoText.endsWith("Z") || /[+-]\d\d:\d\d$/.test(isoText) ? isoText : `${isoText}Z`);
}

/** "comparison 1 of 3 · order 2 of 2 (B shown first) · 41 tokens", from one progress line. */
export function progressText(line, nameOf) {
  const tokens = `${line.tokens} token${line.tokens === 1 ? "" : "s"}`;
  if (line.order) {
    const pair = line.comparisons > 1 ? `comparison ${line.comparison} of ${line.comparisons} · ` : "";
    const order = line.order === "ab" ? 1 : 2;
    return `${pair}order ${order} of 2 (${nameOf(line.shown_as_a)} shown first) · ${tokens}`;
  }
  return `grading ${nameOf(line.shown_as_a)} (${line.comparison} of ${line.comparisons}) · ${tokens}`;
}

function judgmentNode(judgment, nameOf) {
  let verdict;
  let note = null;
  if (judgment.mode === "pairwise") {
    const pair = `${nameOf(judgment.key_a)} vs ${nameOf(judgment.key_b)}`;
    verdict = judgment.winner_key ? `${pair}: ${nameOf(judgment.winner_key)} wins` : `${pair}: tie`;
    if (judgment.consistent === false) {
      note = "Inconsistent: the verdict changed when the answers were swapped, so it counts as a tie.";
    }
  } else {
    const score = judgment.score === null || judgment.score === undefined ? "no grade" : `${judgment.score}/10`;
    verdict = `${nameOf(judgment.key_a)}: ${score}`;
  }
  const earlier = Boolean(judgment.about_earlier_answer);
  return el("div", { class: "judgment", dataset: { winner: judgment.winner_key || "", consistent: String(judgment.consistent), earlier: String(earlier) } },
    el("p", { class: "judgment-verdict" }, verdict),
    earlier ? el("p", { class: "judgment-note judgment-earlier" }, EARLIER_ANSWER) : null,
    judgment.mode === "pairwise" && judgment.consistent ? el("p", { class: "judge-hint" }, "Consistent in both orders.") : null,
    note ? el("p", { class: "judgment-note" }, note) : null,
    ordersNode(judgment, nameOf));
}

/** What the judge said in each order, labelled, so a flip (position bias) can be read off the page. */
function ordersNode(judgment, nameOf) {
  if (judgment.mode !== "pairwise") {
    const reasons = judgment.orders.map((order) => order.explanation).filter(Boolean);
    return reasons.map((text) => el("p", { class: "judgment-explanation" }, el("strong", {}, "Judge's reasons: "), text));
  }
  const items = judgment.orders.map((order, index) => {
    const picked = { A: order.shown_as_a, B: order.shown_as_b }[order.verdict];
    const said = order.verdict === "tie" ? "a tie" : picked ? `${order.verdict} (${nameOf(picked)})` : "nothing it could read";
    return el("li", { class: "judgment-order" },
      el("strong", {}, `Order ${index + 1}, ${nameOf(order.shown_as_a)} shown first: `), `the judge said ${said}.`,
      order.explanation ? " " : null,
      order.explanation ? el("span", { class: "judgment-explanation" }, order.explanation) : null);
  });
  return el("ol", { class: "judgment-orders", "aria-label": "What the judge said in each order" }, items);
}

/** One run: {run_id, judge_model, cloud, sent_to?, mode, judgments}. */
function runNode(run, nameOf) {
  const by = run.cloud ? `${run.judge_model}, in the cloud${run.sent_to ? ` (sent to ${run.sent_to})` : ""}` : run.judge_model;
  const when = run.judgments[0]?.created_at;
  const time = when
    ? el("time", { class: "judge-time", datetime: parseTime(when).toISOString() }, parseTime(when).toLocaleString())
    : null;
  return el("article", { class: "judge-run", dataset: { runId: run.run_id, mode: run.mode } },
    el("header", { class: "judge-run-head" }, el("h4", {}, `${MODE_TITLES[run.mode] || run.mode} by ${by}`), time),
    run.judgments.map((judgment) => judgmentNode(judgment, nameOf)));
}

/** Stored verdicts (GET /api/judge) as runs, newest first. */
export function runsFrom(judgments) {
  const runs = new Map();
  for (const judgment of judgments) {
    if (!runs.has(judgment.run_id)) {
      const { run_id, judge_model, cloud, mode } = judgment;
      runs.set(run_id, { run_id, judge_model, cloud, mode, judgments: [] });
    }
    runs.get(judgment.run_id).judgments.push(judgment);
  }
  const newest = (run) => Math.max(...run.judgments.map((judgment) => judgment.id));
  return [...runs.values()].sort((a, b) => newest(b) - newest(a));
}

/** The judge area of one turn: `onJudge` opens the panel, `onCancel` stops the run in progress. */
export function createJudgeArea({ nameOf, onJudge, onCancel }) {
  const button = el("button", { type: "button", class: "small judge-button", hidden: true, onclick: onJudge }, "Judge");
  const status = el("p", { class: "judge-progress-text", role: "status" });
  const bar = el("progress", { class: "judge-progress-bar", max: "1", value: "0", "aria-label": "Judge calls done" });
  const cancel = el("button", { type: "button", class: "small judge-cancel", onclick: onCancel }, "Cancel");
  const live = el("div", { class: "judge-live", hidden: true, "aria-label": "Judging" }, status, bar, cancel);
  const error = el("p", { class: "judge-run-error", role: "alert", hidden: true });
  const results = el("div", { class: "judge-results", "aria-label": "Judge verdicts", hidden: true });
  const node = el("div", { class: "judge" }, el("div", { class: "judge-row" }, button), live, error, results);
  const shown = new Set(); // run ids on screen
  let judgeName = "";

  return {
    node,
    button,
    /** A run started (`begin`), moved on (`progress`), or ended (`end`, with a message or none). */
    begin(judge) {
      judgeName = judge;
      showError(error, "");
      status.textContent = `Asking ${judge}…`;
      bar.max = 1;
      bar.value = 0;
      cancel.disabled = false;
      live.hidden = false;
    },
    progress(line) {
      status.textContent = `${judgeName}: ${progressText(line, nameOf)}`;
      bar.max = line.calls;
      bar.value = line.call - 1;
    },
    /** `cancelled`: the user asked for it, so it reads as a note, not as an error. */
    end(message, { cancelled = false } = {}) {
      live.hidden = true;
      error.classList.toggle("judge-cancelled", cancelled);
      showError(error, message || "");
    },
    cancelling() {
      cancel.disabled = true;
      status.textContent = "Cancelling…";
    },
    /** Put a finished run on top. */
    addRun(run) {
      if (shown.has(run.run_id)) return;
      shown.add(run.run_id);
      results.prepend(runNode(run, nameOf));
      results.hidden = false;
    },
    /** Every stored run of this turn, newest first (replaces what was shown). */
    setRuns(runs) {
      shown.clear();
      results.replaceChildren();
      for (const run of [...runs].reverse()) this.addRun(run);
      results.hidden = !runs.length;
    },
  };
}
