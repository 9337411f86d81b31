// The answers area: one block per turn (prompt, then a card per instance), from a stored
// conversation or from a stream starting now. Crowns and pairwise votes are per turn.

import { createCard, loadedModel } from "./cards.js";
import { byId, el, icon } from "../lib/dom.js";
import { formatBytes, shortModelName } from "../lib/format.js";
import { parametersLabel } from "./instances.js";
import { entryFor, isMasked, state } from "./store.js";
import { METRICS_HIDDEN_NOTE, metricsHidden } from "./blind.js";

const REGENERATED_ALONE = "regenerated alone — speed not compared";
const BESIDE_LOAD = "a model was loading beside it — speed not compared";
export const NO_CLEAR_WINNER = "within 5% — no clear winner";
// Speeds this close differ by run-to-run noise, not by model: no crown.
const CLEAR_MARGIN = 0.05;
export const VOTE_FINAL = "Vote recorded. Votes are final; regenerating an answer clears the choice about it.";

export const PAIRWISE_CHOICES = [
  { value: "A", label: "A is better" },
  { value: "B", label: "B is better" },
  { value: "tie", label: "Tie" },
  { value: "both_bad", label: "Both bad" },
];

/** handlers: the card handlers (see cards.js) plus pairwise(turnView, value) and judge(turnView). */
export function createTranscript(handlers) {
  const root = byId("transcript");
  const emptyState = byId("empty-state");
  const turns = new Map(); // turn id → turn view

  function naming(key, fallbackModel) {
    const entry = entryFor(key);
    if (isMasked() || (entry && !entry.model)) return { title: entry?.label || key, params: "" };
    if (entry) return { title: shortModelName(entry.model), params: parametersLabel(state.spec, entry) };
    return { title: shortModelName(fallbackModel || key), params: "" };
  }

  function cardHandlers() {
    const conversation = state.conversation;
    const voting = Boolean(conversation?.blind);
    const several = (conversation?.instances.length || 0) > 1;
    return {
      ...handlers,
      continueWith: !isMasked() && several ? handlers.continueWith : null,
      vote: voting ? handlers.vote : null,
    };
  }

  function addTurn(turn, instances) {
    emptyState.hidden = true;
    const cards = new Map();
    const grid = el("div", { class: "cards" });
    for (const { key, model } of instances) {
      const card = createCard({ turnId: turn.id, key, ...naming(key, model), handlers: cardHandlers() });
      cards.set(key, card);
      grid.append(card.node);
    }
    const node = el(
      "section",
      { class: "turn", "aria-label": `Turn ${(turn.index ?? turns.size) + 1}`, dataset: { turnId: String(turn.id) } },
      turn.system ? el("p", { class: "turn-system" }, `System: ${turn.system}`) : null,
      attachmentList(turn.attachments),
      el("div", { class: "turn-prompt" }, turn.user_text),
      grid,
    );
    const view = {
      id: turn.id,
      node,
      cards,
      pairwise: null,
      card: (key) => cards.get(key),
      /** One answer is being replaced: a pairwise choice about the old one no longer holds. */
      resetPairwise() {
        const had = Boolean(view.pairwise?.chosen);
        view.pairwise?.set(null, { open: !state.conversation?.revealed_at });
        return had;
      },
      /** A model loaded during the turn's own round: remembered when that answer is regenerated,
       * since the others' speeds were still measured beside the load. */
      loadInRound: false,
      updateCrown: () => {
        view.loadInRound ||= [...cards.values()].some((card) => card.round === "0" && card.loadedModel);
        updateCrown(cards, { loadInRound: view.loadInRound });
        view.judge?.update();
      },
    };
    if (state.conversation?.blind && cards.size === 2 && state.conversation.instances.length === 2) {
      view.pairwise = pairwiseRow(view);
      node.append(view.pairwise.node);
    }
    view.judge = handlers.judge ? handlers.judge(view) : null; // the Judge button and verdicts (judge.js)
    if (view.judge) node.append(view.judge.node);
    turns.set(turn.id, view);
    root.append(node);
    return view;
  }

  function pairwiseRow(view) {
    const buttons = PAIRWISE_CHOICES.map(({ value, label }) =>
      el("button", { type: "button", class: "small", "aria-pressed": "false", dataset: { choice: value }, onclick: () => handlers.pairwise(view, value) }, label),
    );
    const error = el("p", { class: "vote-error", role: "alert", hidden: true });
    // A choice is final (a misclick too): say so, rather than leave the buttons greyed out unexplained.
    const final = el("span", { class: "vote-final", hidden: true }, VOTE_FINAL);
    const node = el("div", { class: "pairwise", role: "group", "aria-label": "Which answer is better?" },
      el("span", { class: "pairwise-label" }, "Which answer is better?"), buttons, final, error);
    let current = null;
    return {
      node,
      set(chosen, { open }) {
        current = chosen || null;
        for (const button of buttons) {
          button.setAttribute("aria-pressed", String(button.dataset.choice === chosen));
          button.disabled = !open || Boolean(chosen);
          button.title = chosen ? VOTE_FINAL : "";
        }
        final.hidden = !chosen;
      },
      /** The choice shown now, or null. */
      get chosen() {
        return current;
      },
      showError(message) {
        error.textContent = message;
        error.hidden = !message;
      },
    };
  }

  return {
    /** Show a stored conversation (or nothing, for a new one). */
    render(detail) {
      root.replaceChildren(emptyState);
      turns.clear();
      emptyState.hidden = Boolean(detail?.turns.length);
      if (!detail) return;
      const order = detail.instances.map((entry) => entry.key);
      const open = !detail.revealed_at;
      const hidden = metricsHidden();
      for (const turn of detail.turns) {
        const responses = [...turn.responses].sort((a, b) => order.indexOf(a.key) - order.indexOf(b.key));
        const view = addTurn(turn, responses.map((r) => ({ key: r.key })));
        // Replaced answers of the round count too: the load slowed the answers still shown.
        view.loadInRound = !hidden && responses.some((r) => (r.generation_round ?? 0) === 0 && loadedModel(r));
        for (const response of responses) {
          const card = view.card(response.key);
          card.restore(response, { metricsHidden: hidden });
          if (hidden && response.status !== "streaming") card.setHiddenMetrics(METRICS_HIDDEN_NOTE);
          card.setVotes(response.votes, { open });
        }
        view.updateCrown();
        const chosen = detail.pairwise_votes?.find((vote) => vote.turn_id === turn.id)?.value;
        view.pairwise?.set(chosen, { open });
      }
    },

    /** A new turn whose answers are about to stream (`instances` from the stream's first line). */
    startTurn(turn, instances) {
      const view = addTurn(turn, instances.map(({ instance_id, model }) => ({ key: instance_id, model })));
      const open = !state.conversation?.revealed_at; // after a reveal the server refuses votes
      for (const card of view.cards.values()) card.setVotes({}, { open });
      view.pairwise?.set(null, { open });
      view.node.scrollIntoView({ block: "start", behavior: "smooth" });
      return view;
    },

    turn: (turnId) => turns.get(turnId),
    allCards: () => [...turns.values()].flatMap((view) => [...view.cards.values()]),
  };
}

function attachmentList(attachments) {
  if (!attachments?.length) return null;
  return el("ul", { class: "chips turn-attachments", "aria-label": "Attached files" },
    attachments.map((file) => el("li", { class: "chip" }, icon("file"), `${file.filename} (${formatBytes(file.size)})`)));
}

/**
 * The crown goes to the highest tokens/s among answers measured alike, once two can be compared:
 * finished ok, generated together with the turn (round 0: a card regenerated alone ran under
 * another load; a card that waited for a free slot ran after others), and not served from a
 * warm prompt cache or, with the cache unknown, timed by the wall clock, nor run beside another
 * round's generation (see cards.js); no crown at all in a round where a model loaded, which slows
 * every answer beside it; and none when the fastest is within 5% of the runner-up (noise).
 */
export function updateCrown(cards, { loadInRound = false } = {}) {
  const all = [...cards.values()];
  const together = all.filter((card) => card.round === "0");
  // A model loading beside them slowed the others too: that round's speeds are not alike.
  const loading = loadInRound || together.some((card) => card.loadedModel);
  const alike = together.filter((card) => card.status === "ok" && card.tokensPerSecond && !card.outOfCrown);
  const ranked = loading ? [] : alike.sort((a, b) => b.tokensPerSecond - a.tokensPerSecond);
  const floor = ranked.length > 1 ? ranked[0].tokensPerSecond * (1 - CLEAR_MARGIN) : Infinity;
  const close = ranked.filter((card) => card.tokensPerSecond >= floor);
  const fastest = ranked.length > 1 && close.length === 1 ? ranked[0] : null;
  for (const card of all) {
    card.setFastest(card === fastest);
    const regenerated = card.round !== "0" && all.length > 1 && card.hasMetrics;
    const besideLoad = loading && card.round === "0" && !card.loadedModel && card.hasMetrics;
    const tied = close.length > 1 && close.includes(card);
    card.setNote(regenerated ? REGENERATED_ALONE : besideLoad ? BESIDE_LOAD : tied ? NO_CLEAR_WINNER : "");
  }
}
