// Blind mode: thumbs per answer, the pairwise choice, and the reveal with its results table.

import { api } from "../lib/api.js";
import { confirmAction } from "./dialogs.js";
import { byId, el, icon } from "../lib/dom.js";
import { notifyError } from "../lib/notify.js";
import { allParametersLabel } from "./instances.js";
import { voteCategory } from "./next-pair.js";
import { emit, isMasked, on, state } from "./store.js";

const CLOSED = 409;
const STALE_ANSWER = "stale_answer"; // a 409 about an answer regenerated since this page showed it
const SHOW_SPEED_KEY = "arena.blind.showSpeed";
export const METRICS_HIDDEN_NOTE = "speed and token counts hidden until the reveal";
let lastMapping = null; // the reveal's answer, shown until another conversation opens
let speedChoice = null; // this page's choice, when storage refuses to keep it

/** The person's choice to see speed, token counts and the crown before a reveal (off unless chosen). */
export function showSpeed() {
  if (speedChoice !== null) return speedChoice;
  try {
    return localStorage.getItem(SHOW_SPEED_KEY) === "true";
  } catch {
    return false; // storage refused (private mode): the default
  }
}

/** Blind, not revealed, and speed not chosen: the server keeps metrics back, and so does the page. */
export function metricsHidden() {
  return isMasked() && !showSpeed();
}

/** The "Show speed" switch: visible while a conversation (or the next one) is blind and unrevealed. */
export function setupShowSpeed() {
  const toggle = byId("show-speed-toggle");
  const box = byId("show-speed-switch");
  const update = () => {
    box.hidden = !(isMasked() || (state.blind && !state.conversation));
    toggle.checked = showSpeed();
  };
  toggle.addEventListener("change", () => {
    speedChoice = toggle.checked;
    try {
      localStorage.setItem(SHOW_SPEED_KEY, String(toggle.checked));
    } catch {
      // Not kept after this page; the reload below still honours it.
    }
    emit("reload-conversation"); // read the answers again, with or without their metrics
  });
  on("conversation-changed", update);
  on("blind-changed", update);
  update();
}

function closeVoting(message) {
  // Another tab (or person) revealed this conversation: the server now refuses every vote.
  for (const button of document.querySelectorAll(".votes button, .pairwise button")) button.disabled = true;
  notifyError(message);
}

const UNKNOWN_ANSWER = "This page does not know which stored answer it shows: it reads the conversation again, then vote.";

/** The stored answers the cards show (never the latest the page merely loaded), or null when
 * a card does not know its own (its stream broke before the done line): then nothing is sent. */
function shownAnswers(cards) {
  const ids = cards.map((card) => card?.responseId ?? null);
  return ids.every((id) => id !== null) ? ids : null;
}

function unknownAnswer(showError) {
  showError(UNKNOWN_ANSWER);
  emit("reload-conversation"); // the stored answers, each with its id
}

function refused(error, showError) {
  if (error.reason === STALE_ANSWER) {
    // Another tab regenerated the answer: show the new one, and say why the vote did not count.
    notifyError(error.message);
    emit("reload-conversation");
  } else {
    showError(error.message);
    if (error.status === CLOSED) closeVoting(error.message);
  }
}

export async function voteThumb(card, value) {
  card.showVoteError("");
  const shown = shownAnswers([card]);
  if (!shown) return unknownAnswer((message) => card.showVoteError(message));
  const vote = { turn_id: card.turnId, kind: "thumb", key: card.key, value, response_id: shown[0], category: voteCategory() };
  try {
    await api.vote(state.conversation.id, vote);
    card.setVotes(value === "up" ? { up: 1 } : { down: 1 }, { open: true });
  } catch (error) {
    refused(error, (message) => card.showVoteError(message));
  }
}

export async function votePairwise(turnView, value) {
  turnView.pairwise.showError("");
  const shown = shownAnswers((state.conversation?.instances || []).map((entry) => turnView.card(entry.key)));
  if (!shown) return unknownAnswer((message) => turnView.pairwise.showError(message));
  const vote = { turn_id: turnView.id, kind: "pairwise", value, response_ids: shown, category: voteCategory() };
  try {
    await api.vote(state.conversation.id, vote);
    turnView.pairwise.set(value, { open: true });
  } catch (error) {
    refused(error, (message) => turnView.pairwise.showError(message));
  }
}

/** Ask, reveal, then reload the conversation so every card shows its model. */
export async function reveal() {
  const conversation = state.conversation;
  const confirmed = await confirmAction({
    title: "Reveal the models?",
    message: "You will see which model and settings gave each answer. Voting closes for this conversation.",
    confirmLabel: "Reveal",
  });
  if (!confirmed) return;
  try {
    const { mapping } = await api.reveal(conversation.id);
    lastMapping = { conversationId: conversation.id, rows: mapping };
  } catch (error) {
    notifyError(error.message);
  }
  emit("reload-conversation");
}

/** Rows of the results table from a stored conversation: votes summed per instance. */
export function rowsFromDetail(detail) {
  const rows = detail.instances.map((entry) => ({ ...entry, instance_id: entry.instance_id || entry.key, up: 0, down: 0, pairwise_wins: 0 }));
  const byKey = new Map(rows.map((row) => [row.key, row]));
  for (const turn of detail.turns) {
    for (const response of turn.responses) {
      const row = byKey.get(response.key);
      if (!row) continue;
      row.up += response.votes?.up || 0;
      row.down += response.votes?.down || 0;
    }
  }
  for (const vote of detail.pairwise_votes || []) {
    const winner = { A: rows[0], B: rows[1] }[vote.value];
    if (winner) winner.pairwise_wins += 1;
  }
  return rows;
}

/** The results panel of a revealed blind conversation (hidden otherwise). */
export function renderResults(detail) {
  const panel = byId("results");
  if (!detail?.blind || !detail.revealed_at) {
    panel.hidden = true;
    panel.replaceChildren();
    return;
  }
  const rows = lastMapping?.conversationId === detail.id ? lastMapping.rows : rowsFromDetail(detail);
  const cell = (value) => el("td", { class: "number" }, String(value ?? 0));
  panel.replaceChildren(
    el("h2", { id: "results-heading" }, "Revealed: who was who"),
    el("table", { class: "data reveal-table" },
      el("thead", {}, el("tr", {},
        el("th", { scope: "col" }, "Label"),
        el("th", { scope: "col" }, "Model"),
        el("th", { scope: "col" }, "Hyperparameters"),
        el("th", { scope: "col", class: "number" }, icon("thumb-up"), el("span", { class: "visually-hidden" }, "Thumbs up")),
        el("th", { scope: "col", class: "number" }, icon("thumb-down"), el("span", { class: "visually-hidden" }, "Thumbs down")),
        el("th", { scope: "col", class: "number" }, "Pairwise wins"))),
      el("tbody", {}, rows.map((row) => el("tr", {},
        el("th", { scope: "row" }, row.label),
        el("td", {}, row.model || "?"),
        el("td", { class: "params" }, allParametersLabel(state.spec, row)),
        cell(row.up),
        cell(row.down),
        cell(row.pairwise_wins))))),
  );
  panel.hidden = false;
}
