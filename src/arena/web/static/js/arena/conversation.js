// The open conversation: open or start one, send each message, regenerate, stop, copy,
// narrow to one model and back; and the bar above it (title, badges, reveal, export).

import { api } from "../lib/api.js";
import { byId, showError } from "../lib/dom.js";
import { shortModelName } from "../lib/format.js";
import { instanceFromEntry } from "./instances.js";
import { notify, notifyError, notifySuccess } from "../lib/notify.js";
import { emit, entryFor, isMasked, isStreaming, on, state } from "./store.js";
import { renderAnswer, runStream, stopAllStreams } from "./stream.js";
import { renderResults, showSpeed } from "./blind.js";
import { queueText } from "./cards.js";

const PAIRWISE_CLEARED = "Your choice between the answers was about the earlier one, so it was cleared: vote again once the new answer is in.";

const TITLE_LENGTH = 60;
const HASH_PREFIX = "#c=";
const RECHECK_MS = 2000; // how often a conversation opened mid-answer is read again

export function titleFrom(text) {
  const line = text.split(/\s+/).filter(Boolean).join(" ");
  return line.length <= TITLE_LENGTH ? line : `${line.slice(0, TITLE_LENGTH - 1)}…`;
}

export function conversationIdFromHash(hash = location.hash) {
  return hash.startsWith(HASH_PREFIX) ? decodeURIComponent(hash.slice(HASH_PREFIX.length)) : null;
}

export function createConversationController({ transcript }) {
  const prompt = byId("prompt-input");
  const systemInput = byId("system-input");
  const composerError = byId("composer-error");
  const sendButton = byId("send-button");
  const queueStatus = byId("queue-status");

  function updateBar() {
    const conversation = state.conversation;
    byId("conversation-title").textContent = conversation ? conversation.title : "New comparison";
    byId("blind-badge").hidden = !conversation?.blind && !(state.blind && !conversation);
    byId("revealed-badge").hidden = !conversation?.revealed_at;
    byId("imported-badge").hidden = byId("imported-note").hidden = !conversation?.imported;
    byId("reveal-button").hidden = !isMasked();
    byId("export-menu").hidden = !conversation;
    document.title = conversation ? `${conversation.title} · Local LLM Arena` : "Local LLM Arena";
  }

  function setConversation(detail) {
    state.conversation = detail;
    const wanted = detail ? `${HASH_PREFIX}${detail.id}` : "";
    if (location.hash !== wanted) history.replaceState(null, "", wanted || location.pathname);
    updateBar();
    emit("conversation-changed");
  }

  async function open(id) {
    stopAllStreams();
    let detail;
    try {
      detail = await api.conversation(id, { showMetrics: showSpeed() });
    } catch (error) {
      notifyError(`That conversation cannot be opened: ${error.message}`);
      if (error.status === 404) startNew();
      return;
    }
    state.selection = detail.instances.map(instanceFromEntry).filter(Boolean);
    state.allBeforeFocus = null;
    setConversation(detail);
    transcript.render(detail);
    emit("conversation-opened", detail); // its stored judge verdicts load under their turns (judge.js)
    renderResults(detail);
    // Opened while answers were still being written (another tab, or a reload): read it again.
    const unfinished = detail.turns.some((turn) => turn.responses.some((r) => r.status === "streaming"));
    if (unfinished) {
      setTimeout(() => {
        if (state.conversation?.id === id && !isStreaming()) open(id);
      }, RECHECK_MS);
    }
  }

  function startNew() {
    stopAllStreams();
    if (isMasked()) state.selection = []; // nobody may learn the hidden models from the chips
    state.allBeforeFocus = null;
    setConversation(null);
    transcript.render(null);
    renderResults(null);
    prompt.focus();
  }

  /** Build the turn's cards from the stream's first line; learn about instances new to the conversation. */
  async function startTurn(first, turn) {
    if (first.instances.some(({ instance_id }) => !entryFor(instance_id))) {
      state.conversation = await api.conversation(first.conversation_id, { showMetrics: showSpeed() });
    }
    prompt.value = "";
    state.attachments = [];
    emit("attachments-changed");
    const view = transcript.startTurn({ id: first.turn_id, ...turn }, first.instances);
    emit("turn-started");
    emit("sessions-changed");
    return view;
  }

  /** The stored detail after a stream; the cards stay as streamed. An answer another tab
   * regenerated meanwhile is not adopted: votes name each card's own answer (card.responseId),
   * so the server refuses one about the replaced answer and the page then shows the new one. */
  async function refreshDetail(conversationId) {
    if (state.conversation?.id !== conversationId) return;
    try {
      const detail = await api.conversation(conversationId, { showMetrics: showSpeed() });
      if (state.conversation?.id === conversationId) setConversation(detail);
    } catch {
      // The page still shows what streamed; the next open reads it again.
    }
  }

  async function send() {
    showError(composerError, "");
    const text = prompt.value.trim();
    if (!text) {
      showError(composerError, "Type a message first.");
      prompt.focus();
      return;
    }
    if (isStreaming()) {
      showError(composerError, "Answers are still streaming: wait for them, or press Stop all (Esc).");
      return;
    }
    if (!isMasked() && !state.selection.length) {
      showError(composerError, "Add at least one model instance above first (Ctrl+K jumps to the model list).");
      return;
    }
    sendButton.disabled = true;
    try {
      if (!state.conversation) {
        const created = await api.createConversation({ title: titleFrom(text), blind: state.blind, model_instances: state.selection });
        setConversation(created);
        emit("sessions-changed");
      }
      const conversationId = state.conversation.id;
      const system = systemInput.value.trim();
      const attachments = state.attachments.map(({ filename, text: content }) => ({ filename, text: content }));
      const body = { conversation_id: conversationId, message: text };
      if (system) body.system = system;
      if (attachments.length) body.attachments = attachments;
      // A masked conversation answers with its own instances: the server refuses any named.
      if (state.selection.length && !isMasked()) body.model_instances = state.selection;
      const turn = { user_text: text, system: system || null, attachments: state.attachments.map(({ filename, size }) => ({ filename, size })) };
      await runStream(body, (first) => startTurn(first, turn), { onQueued: showQueued });
      await refreshDetail(conversationId);
    } catch (error) {
      showError(composerError, error.message);
    } finally {
      showQueued(null);
      sendButton.disabled = false;
    }
  }

  /** A new turn has no cards until its answers start: its wait for a slot shows by the composer. */
  function showQueued(ahead) {
    queueStatus.textContent = ahead === null ? "" : queueText(ahead);
    queueStatus.hidden = ahead === null;
  }

  async function regenerate(card) {
    const conversationId = state.conversation.id;
    const body = { conversation_id: conversationId, regenerate: { turn_id: card.turnId, key: card.key } };
    card.begin(); // at once, so the click shows; the stream fills it
    card.round = `regenerated-${card.turnId}-${Date.now()}`; // generated alone: its speed is not compared
    card.setVotes({}, { open: !state.conversation.revealed_at }); // a new answer has no votes yet
    // The server drops a pairwise vote about the old answer: say so, or the vote seems to vanish.
    if (transcript.turn(card.turnId)?.resetPairwise()) notify(PAIRWISE_CLEARED);
    try {
      await runStream(body, () => ({
        card: (key) => (key === card.key ? card : null),
        updateCrown: () => transcript.turn(card.turnId)?.updateCrown(),
      }), { onQueued: (ahead) => card.setQueued(ahead) });
      await refreshDetail(conversationId);
    } catch (error) {
      card.finish({ status: "error", error: error.message });
      renderAnswer(card);
    }
  }

  async function stop(card) {
    try {
      await api.stop(card.turnId, card.key);
    } catch (error) {
      if (error.status !== 404) notifyError(error.message); // 404: it had just finished
    }
  }

  async function copy(card) {
    try {
      await navigator.clipboard.writeText(card.text);
      notifySuccess(`Copied the answer of ${card.title}.`);
    } catch {
      notifyError("The browser did not allow copying; select the text and copy it by hand.");
    }
  }

  function continueWith(card) {
    const instance = instanceFromEntry(entryFor(card.key) || {});
    if (!instance) return;
    state.allBeforeFocus ??= state.selection;
    state.selection = [instance];
    emit("selection-changed");
    notify(`Next messages go to ${shortModelName(instance.model)} only. “Compare all models again” brings the others back.`);
    prompt.focus();
  }

  function compareAll() {
    if (!state.allBeforeFocus) return;
    state.selection = state.allBeforeFocus;
    state.allBeforeFocus = null;
    emit("selection-changed");
  }

  on("reload-conversation", () => state.conversation && open(state.conversation.id));
  on("blind-changed", updateBar);
  on("streaming-changed", () => {
    byId("stop-all").hidden = !isStreaming();
  });
  byId("composer").addEventListener("submit", (event) => {
    event.preventDefault();
    send();
  });
  byId("stop-all").addEventListener("click", stopAllStreams);
  byId("compare-all").addEventListener("click", compareAll);
  window.addEventListener("hashchange", () => {
    const id = conversationIdFromHash();
    if (id && id !== state.conversation?.id) open(id);
  });
  updateBar();

  return { open, startNew, send, regenerate, stop, copy, continueWith, setConversation };
}
