// Where a judge model is chosen (the arena's judge panel, the bench form): a warning under the
// picker when the chosen judge was inconsistent on most of its stored pairs (GET /api/judges),
// with the advice the server gives. Judges without enough pairs say nothing.

import { requestJson } from "./api.js";
import { el } from "./dom.js";

/** Watch `select`; returns `reload()`, to call once the page may ask the API (after a token, on open). */
export function watchJudgeTrust(select) {
  const note = el("p", { class: "field-error judge-trust", role: "status", hidden: true });
  (select.closest(".field, label") || select).after(note);
  let advice = new Map(); // judge model → advice, for the flagged ones
  const show = () => {
    const said = advice.get(select.value);
    note.textContent = said ? `⚠ ${said} See the Judges page.` : "";
    note.hidden = !said;
  };
  select.addEventListener("change", show);
  return async function reload() {
    show();
    try {
      const { judges } = await requestJson("GET", "/api/judges");
      advice = new Map(judges.filter((judge) => judge.unreliable).map((judge) => [judge.judge_model, judge.advice]));
    } catch {
      return; // no numbers, no warning: choosing a judge still works
    }
    show();
  };
}
