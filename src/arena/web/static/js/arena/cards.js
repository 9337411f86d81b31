// One answer card: streams plain text live, then shows the server-rendered HTML, its metrics
// and its actions (Stop, Regenerate, Copy, Continue with this model, votes when blind).

import { el, icon } from "../lib/dom.js";
import { formatCount, formatRate, formatSeconds } from "../lib/format.js";

const STATUS_TEXT = { waiting: "waiting", streaming: "streaming", ok: "done", error: "error", stopped: "stopped" };
const AT_LIMIT = "stopped at the token limit";
const MEASURED = "First token: from sending to the first token (the server's clock), including any wait for a "
  + "free slot and any model load, both noted below. Speed: tokens after the first, per second of generation. "
  + "Tokens: the engine's own count.";
export const CONTENDED = "other generations ran beside it — speed not compared";
const LOAD_WORTH_SAYING_S = 0.1; // Ollama reports a few milliseconds of "load" for a model already loaded

/** What a card says about its prompt cache: why its first token may come sooner than another's. */
export function cacheNote({ cached_prompt_tokens: cached, prompt_tokens: prompt, engine_timed: engineTimed }) {
  if (cached === null || cached === undefined) {
    // A wall-clock rate of an unknown cache may owe its speed to a warm one; the engine's own clock cannot.
    return engineTimed ? "prompt cache not reported by the engine"
      : "prompt cache not reported and speed from the wall clock — not in the crown";
  }
  if (cached === 0) return "cold prompt cache";
  return `${cached} of ${prompt ?? "?"} prompt tokens cached — not in the crown`;
}

/** Whether an answer was measured under other conditions than the rest (kept out of the crown). */
export function outOfCrown({
  cached_prompt_tokens: cached, engine_timed: engineTimed, wait_s: wait, load_s: load, contended,
}) {
  return wait > 0 || loadedModel({ load_s: load }) || cached > 0 || contended === true
    || ((cached === null || cached === undefined) && !engineTimed);
}

/** A model load takes the CPU (and disk) from every answer running beside it, not only its own. */
export function loadedModel({ load_s: load }) {
  return load >= LOAD_WORTH_SAYING_S;
}

/**
 * What else the first token time holds (a wait for a free slot, a model load), and whether a
 * generation of another round (another conversation, a judge, a bench item) slowed this one alone.
 */
export function conditionNotes({ wait_s: wait, load_s: load, contended }) {
  const notes = [];
  if (contended === true) notes.push(CONTENDED);
  if (wait > 0) notes.push(`waited ${formatSeconds(wait)} for a free slot — speed not compared`);
  if (loadedModel({ load_s: load })) notes.push(`first token includes model load ${formatSeconds(load)} — speed not compared`);
  return notes;
}

/**
 * What the engine did beyond the instance's settings: sampling it added (the embedded engine's
 * min_p) and a prompt prefix evaluated once for the answers started together (fair among them).
 */
export function engineNotes({ shared_prompt_tokens: shared, engine_settings: engineSettings }) {
  const notes = [];
  const added = Object.entries(engineSettings ?? {}).map(([name, value]) => `${name}=${value}`).join(" ");
  if (added) notes.push(`engine sampling: ${added}`);
  if (shared > 0) notes.push(`${shared} prompt tokens evaluated once for the answers started with it`);
  return notes;
}

/** A request waiting for one of the server's generations (ARENA_MAX_GENERATIONS). */
export function queueText(ahead) {
  return `Waiting for a free slot — ${ahead} ahead`;
}

/** What a person can do about an error, from the server's message. */
export function adviceFor(message) {
  const text = (message || "").toLowerCase();
  if (text.includes("not found") || text.includes("not available") || text.includes("pull")) {
    return "Pull the model in the Model manager, or remove this instance and pick another.";
  }
  if (text.includes("timed out") || text.includes("timeout")) {
    return "Lower Max tokens, or raise REQUEST_TIMEOUT, then Regenerate.";
  }
  if (text.includes("unreachable") || text.includes("cannot reach") || text.includes("connect") || text.includes("no engine")) {
    return "Check that the engine is running (for Ollama: `ollama serve`), then Regenerate.";
  }
  if (text.includes("too many generations") || text.includes("busy")) {
    return "Too much is running at once: wait a moment, then Regenerate.";
  }
  return "Regenerate to try again; the other answers are not affected.";
}

/**
 * handlers: {stop(card), regenerate(card), copy(card), continueWith(card) | null, vote(card, value) | null}
 * title/params: how the card names its instance (a label only, while blind).
 */
export function createCard({ turnId, key, title, params, handlers }) {
  const titleId = `card-${turnId}-${key}`.replace(/[^A-Za-z0-9_-]/g, "_");
  const status = el("span", { class: "card-status" });
  const crown = el("span", { class: "crown", title: "Fastest: highest tokens per second", hidden: true },
    icon("crown"), el("span", { class: "visually-hidden" }, "fastest"));
  const answer = el("div", { class: "answer", "aria-live": "polite", "aria-labelledby": titleId });
  const errorBox = el("div", { class: "card-error", role: "alert", hidden: true });
  const metrics = el("dl", { class: "metrics", hidden: true, title: MEASURED });
  const note = el("p", { class: "card-note", hidden: true });
  const engineNote = el("p", { class: "card-engine", hidden: true });
  const stopButton = el("button", { type: "button", class: "small danger", onclick: () => handlers.stop(card) }, "Stop");
  const regenerateButton = el("button", { type: "button", class: "small", onclick: () => handlers.regenerate(card) }, "Regenerate");
  const copyButton = el("button", { type: "button", class: "small ghost", onclick: () => handlers.copy(card) }, "Copy");
  const continueButton = handlers.continueWith
    ? el("button", { type: "button", class: "small ghost", onclick: () => handlers.continueWith(card) }, "Continue with this model")
    : null;
  const votes = el("div", { class: "votes", role: "group", "aria-label": `Vote on ${title}` });
  const voteError = el("p", { class: "vote-error", role: "alert", hidden: true });
  const upButton = voteButton("up", "thumb-up", `Good answer from ${title}`);
  const downButton = voteButton("down", "thumb-down", `Bad answer from ${title}`);
  if (handlers.vote) votes.append(upButton, downButton);

  const node = el(
    "article",
    { class: "card", "aria-labelledby": titleId, dataset: { key, turnId: String(turnId) } },
    el("header", { class: "card-head" },
      el("h3", { class: "card-title", id: titleId }, title, params ? " " : "", params ? el("span", { class: "card-params" }, params) : null),
      crown,
      status),
    answer,
    errorBox,
    metrics,
    note,
    engineNote,
    el("footer", { class: "card-actions" }, stopButton, regenerateButton, copyButton, continueButton, handlers.vote ? votes : null),
    voteError,
  );

  let textNode = null;
  let rawText = "";
  let cacheText = "";

  function voteButton(value, iconName, label) {
    return el("button", { type: "button", class: "small", "aria-label": label, "aria-pressed": "false", dataset: { vote: value }, onclick: () => handlers.vote(card, value) }, icon(iconName));
  }

  function setStatus(value) {
    node.dataset.status = value;
    status.textContent = STATUS_TEXT[value] || value;
    const busy = value === "waiting" || value === "streaming";
    answer.setAttribute("aria-busy", busy ? "true" : "false");
    stopButton.hidden = !busy;
    regenerateButton.hidden = busy;
    copyButton.disabled = busy && !rawText;
  }

  const card = {
    node,
    key,
    turnId,
    title,
    get text() {
      return rawText;
    },
    get status() {
      return node.dataset.status;
    },
    get tokensPerSecond() {
      return Number(node.dataset.tokensPerSecond) || null;
    },
    /** Answers of one round were generated together; a regenerate is a round of its own. */
    round: "0",
    /** The stored answer this card shows (from its done line or the detail): votes name it. */
    responseId: null,
    /** Prompt tokens a cache served (null: not reported, undefined: no metrics shown). */
    get cachedPromptTokens() {
      const value = node.dataset.cachedPromptTokens;
      return value === undefined || value === "" ? null : Number(value);
    },
    /** Measured under other conditions (a wait for a slot, a warm or unknown cache): no crown. */
    get outOfCrown() {
      return node.dataset.outOfCrown === "true";
    },
    /** This answer waited for its model to load: the round's speeds are not alike. */
    get loadedModel() {
      return node.dataset.loadedModel === "true";
    },
    get hasMetrics() {
      return !metrics.hidden;
    },

    /** Empty the card for a new stream (first send or Regenerate). */
    begin() {
      rawText = "";
      textNode = null;
      answer.replaceChildren();
      answer.className = "answer waiting";
      errorBox.hidden = true;
      metrics.hidden = true;
      engineNote.hidden = true;
      delete node.dataset.tokensPerSecond;
      delete node.dataset.cachedPromptTokens;
      delete node.dataset.outOfCrown;
      delete node.dataset.loadedModel;
      delete node.dataset.limit;
      cacheText = "";
      card.responseId = null;
      card.setNote("");
      card.setFastest(false);
      setStatus("waiting");
    },

    /** Waiting for a free slot on the server: how many requests are ahead (null: no longer). */
    setQueued(ahead) {
      if (rawText) return;
      answer.textContent = ahead === null ? "" : queueText(ahead);
      node.dataset.queued = String(ahead !== null);
    },

    /** A streamed token: plain text, appended as it arrives. */
    append(token) {
      if (!textNode) {
        answer.className = "answer streaming";
        textNode = document.createTextNode("");
        answer.replaceChildren(textNode);
        setStatus("streaming");
      }
      rawText += token;
      textNode.appendData(token);
    },

    /** The done line (or a stored response): status, metrics, error. */
    finish({ status: outcome = "ok", metrics: figures, error, responseId = null }) {
      card.responseId = responseId;
      setStatus(outcome);
      if (!rawText) answer.className = "answer empty";
      if (figures) showMetrics(figures, outcome);
      if (outcome === "ok" && figures?.finish_reason === "length") {
        node.dataset.limit = "true";
        status.textContent = AT_LIMIT;
      }
      if (outcome === "error") showProblem(`Error: ${error || "the generation failed"}`, adviceFor(error));
      else if (outcome === "stopped") showProblem("Stopped", rawText ? "The partial answer is kept." : "Nothing was generated.");
    },

    /** Replace the streamed text by the server's sanitised, highlighted HTML. */
    showHtml(html) {
      if (!rawText) return;
      answer.className = "answer";
      answer.innerHTML = html; // rendered and sanitised on the server (markdown-it → nh3 → Pygments)
    },

    /** Fill from a stored response of the conversation detail. */
    restore(response, { metricsHidden = false } = {}) {
      card.begin();
      card.round = String(response.generation_round ?? 0);
      if (response.text) card.append(response.text);
      card.finish({ status: response.status, metrics: metricsHidden ? null : response, error: response.error, responseId: response.id });
      if (response.html) card.showHtml(response.html);
      if (response.status === "streaming") setStatus("streaming");
    },

    setFastest(fastest) {
      crown.hidden = !fastest;
      node.classList.toggle("fastest", fastest);
    },

    /** The line under the metrics: the cache state and whether this speed is compared. */
    setNote(comparison) {
      const text = [cacheText, comparison].filter(Boolean).join(" · ");
      note.textContent = text;
      note.hidden = !text;
    },

    /** Metrics kept back (blind, before the reveal): say so instead of showing an empty row. */
    setHiddenMetrics(message) {
      cacheText = message;
      card.setNote("");
    },

    /** Votes: which was cast, and whether voting is still open. */
    setVotes({ up = 0, down = 0 } = {}, { open }) {
      upButton.setAttribute("aria-pressed", String(up > 0));
      downButton.setAttribute("aria-pressed", String(down > 0));
      const cast = up > 0 || down > 0;
      upButton.disabled = !open || cast;
      downButton.disabled = !open || cast;
      for (const button of [upButton, downButton]) button.title = cast ? "You voted on this answer; votes are final" : "";
    },

    showVoteError(message) {
      voteError.textContent = message;
      voteError.hidden = !message;
    },
  };

  function showMetrics(figures, outcome) {
    if (figures.tokens_per_sec !== null && figures.tokens_per_sec !== undefined) {
      node.dataset.tokensPerSecond = String(figures.tokens_per_sec);
    }
    node.dataset.cachedPromptTokens = figures.cached_prompt_tokens ?? "";
    node.dataset.outOfCrown = String(outOfCrown(figures));
    node.dataset.loadedModel = String(loadedModel(figures));
    // A stopped or failed answer never reached the engine's final report: no cache state to tell.
    const cache = outcome === "ok" ? [cacheNote(figures)] : [];
    cacheText = [...conditionNotes(figures), ...cache].join(" · ");
    card.setNote("");
    engineNote.textContent = engineNotes(figures).join(" · ");
    engineNote.hidden = !engineNote.textContent;
    metrics.replaceChildren(
      metric("First token", formatSeconds(figures.ttft_s), "ttft"),
      metric("Speed", formatRate(figures.tokens_per_sec), "rate"),
      metric("Tokens", formatCount(figures.tokens), "tokens"),
      metric("Duration", formatSeconds(figures.duration_s), "duration"),
    );
    metrics.hidden = false;
  }

  function showProblem(headline, advice) {
    errorBox.replaceChildren(el("strong", {}, headline), el("span", {}, advice));
    errorBox.hidden = false;
  }

  card.begin();
  return card;
}

function metric(label, value, name) {
  return el("div", { dataset: { metric: name } }, el("dt", {}, label), el("dd", {}, value));
}
