// Blind battles that teach the leaderboard most: "Suggest a pair" asks GET /api/leaderboard/next-pair
// which two of the listed models to compare (overlapping intervals, few battles), and the vote
// category (a free text with the known categories offered) goes with every vote.

import { api } from "../lib/api.js";
import { byId, el } from "../lib/dom.js";
import { makeInstance } from "./instances.js";
import { emit, isMasked, on, state } from "./store.js";

/** The category the voter named for this prompt, or undefined (the vote then has none). */
export function voteCategory() {
  const text = byId("vote-category").value.trim();
  return text || undefined;
}

const MAX_CANDIDATES = 200; // the API's limit

function offerCategories(categories) {
  byId("vote-categories").replaceChildren(...categories.map((value) => el("option", { value })));
}

function defaults() {
  return Object.fromEntries(state.spec.map((field) => [field.name, field.default]));
}

export function setupNextPair() {
  const button = byId("suggest-pair");
  const note = byId("suggest-pair-note");
  const categoryBox = byId("vote-category-box");
  let shownId = null;
  let categoriesAsked = false;
  const update = () => {
    button.hidden = !(state.blind && !state.conversation);
    categoryBox.hidden = !isMasked();
    if (!categoryBox.hidden && !categoriesAsked) {
      categoriesAsked = true; // once a page, and only when a vote may need them: it reads the whole board
      api.nextPairCategories().then(offerCategories, () => {}); // without the list, free text still works
    }
    const id = state.conversation?.id ?? null;
    if (id !== shownId && shownId !== null) byId("vote-category").value = ""; // another conversation, other prompts
    if (id !== null) note.textContent = ""; // the suggestion was for the battle now started
    shownId = id;
  };

  button.addEventListener("click", async () => {
    note.textContent = "";
    const candidates = [...new Set(state.models.map((model) => model.id))].slice(0, MAX_CANDIDATES);
    if (candidates.length < 2) {
      note.textContent = "Two models are needed to suggest a pair: pull another in the Model manager.";
      return;
    }
    try {
      const proposal = await api.nextPair(candidates, voteCategory());
      offerCategories(proposal.categories);
      state.selection = proposal.pair.map((model) => makeInstance(model, defaults()));
      state.allBeforeFocus = null;
      emit("selection-changed");
      note.textContent = `Suggested: ${proposal.reason}`;
    } catch (error) {
      note.textContent = `No pair could be suggested: ${error.message}`;
    }
  });
  on("conversation-changed", update);
  on("blind-changed", update);
  update();
}
