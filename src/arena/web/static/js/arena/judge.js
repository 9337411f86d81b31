// "Judge" under each finished turn: a panel (dialog) to pick a judge model (or, opted in, a cloud
// judge), the mode and a reference answer. Sending closes it: the run streams from
// POST /api/judge/stream into the turn's judge area (progress, Cancel, errors) while the page
// stays usable, and its verdicts join the earlier ones there, newest first. A reopened
// conversation loads every stored verdict (GET /api/judge). The cloud API key goes with that one
// request and is never kept.

import { ndjson, request, requestJson } from "../lib/api.js";
import { byId, el, showError } from "../lib/dom.js";
import { watchJudgeTrust } from "../lib/judge-trust.js";
import { createJudgeArea, runsFrom } from "./judge-view.js";
import { isStreaming, on, state } from "./store.js";

const STORED_LIMIT = 500; // the most GET /api/judge gives at once

export function createJudge() {
  const dialog = byId("judge-dialog");
  const form = byId("judge-form");
  const modelSelect = byId("judge-model");
  const reloadTrust = watchJudgeTrust(modelSelect); // warns of a judge that flips with the order
  const modeSelect = byId("judge-mode");
  const referenceField = byId("judge-reference-field");
  const reference = byId("judge-reference");
  const tokens = byId("judge-tokens");
  const cloudBox = byId("judge-cloud");
  const cloudFields = byId("judge-cloud-fields");
  const privacy = byId("judge-privacy");
  const providerSelect = byId("judge-provider");
  const cloudModel = byId("judge-cloud-model");
  const apiKey = byId("judge-api-key");
  const keyHint = byId("judge-key-hint");
  const error = byId("judge-error");
  const sendButton = byId("judge-send");
  let current = null; // the turn view the panel was opened for
  let providers = null; // /api/judge/cloud, loaded when the box is first ticked
  const parts = new Map(); // turn id → {area, blocked}: its judge area (the latest, after a reopen)
  const running = new Map(); // turn id → AbortController of its run in progress

  const answered = (view) => [...view.cards.values()].filter((card) => card.status === "ok");
  const answering = (view) => [...view.cards.values()].some((card) => card.status === "waiting" || card.status === "streaming");
  const nameOf = (view, key) => view.card(key)?.title || key || "?";

  function fillModels() {
    const previous = modelSelect.value;
    modelSelect.replaceChildren(...state.models.map((model) => el("option", { value: model.id }, model.id)));
    if (!state.models.length) modelSelect.append(el("option", { value: "" }, "No local models found"));
    if (state.models.some((model) => model.id === previous)) modelSelect.value = previous;
  }

  function provider() {
    return providers?.find((entry) => entry.name === providerSelect.value) || null;
  }

  function refresh() {
    referenceField.hidden = modeSelect.value !== "reference";
    const cloud = cloudBox.checked;
    cloudFields.hidden = !cloud;
    modelSelect.disabled = cloud;
    const chosen = provider();
    const none = providers !== null && !providers.length; // an admin turned no cloud judge on
    providerSelect.disabled = none;
    if (!cloud) privacy.textContent = "";
    else if (none) privacy.textContent = "No cloud judge is configured (ARENA_CLOUD_JUDGES).";
    else privacy.textContent = chosen?.notice || "Loading the privacy notice…";
    keyHint.textContent = chosen?.key_in_environment
      ? `Sent with this one request only, never stored. Leave empty to use ${chosen.key_variable} from the server.`
      : "Sent with this one request only, never stored.";
    // Nothing goes to a cloud judge before its privacy notice is on screen.
    sendButton.disabled = cloud ? !chosen : !modelSelect.value;
  }

  async function loadProviders() {
    if (providers) return;
    try {
      providers = (await (await request("GET", "/api/judge/cloud")).json()).providers;
      providerSelect.replaceChildren(
        ...providers.map((entry) => el("option", { value: entry.name }, `${entry.name} (${entry.provider})`)),
      );
    } catch (failure) {
      showError(error, failure.message);
    }
    refresh();
  }

  function open(view) {
    current = view;
    const count = answered(view).length;
    fillModels();
    reloadTrust();
    modeSelect.querySelector("option[value=pairwise]").disabled = count < 2;
    if (count < 2 && modeSelect.value === "pairwise") modeSelect.value = "single";
    byId("judge-turn").textContent = `${count} answer${count === 1 ? "" : "s"}: ${answered(view).map((card) => card.title).join(", ")}`;
    showError(error, "");
    refresh();
    if (!dialog.open) dialog.showModal();
  }

  function body(view) {
    const payload = { conversation_id: state.conversation?.id, turn_id: view.id, mode: modeSelect.value };
    payload.options = { num_predict: Number(tokens.value) }; // the judge's other sampling keeps its defaults
    if (modeSelect.value === "reference") payload.reference = reference.value;
    if (cloudBox.checked) {
      payload.cloud = { endpoint: providerSelect.value, model: cloudModel.value.trim() };
      if (apiKey.value) payload.cloud.api_key = apiKey.value;
      payload.allow_cloud = true; // the box is ticked and the notice is shown
    } else {
      payload.judge_model = modelSelect.value;
    }
    return payload;
  }

  function send() {
    if (!current || running.has(current.id)) return;
    if (modeSelect.value === "reference" && !reference.value.trim()) {
      showError(error, "Write the reference answer first.");
      return;
    }
    if (!tokens.checkValidity()) {
      showError(error, "The token limit is a whole number from 16 to 4096.");
      return;
    }
    if (cloudBox.checked && !cloudModel.value.trim()) {
      showError(error, "Name the cloud model first.");
      return;
    }
    const payload = body(current);
    apiKey.value = ""; // the key serves this one request
    dialog.close();
    run(current.id, payload);
  }

  /** Stream one run into the turn's area; the area may be rebuilt meanwhile (a reopen): look it up each time. */
  async function run(turnId, payload) {
    const controller = new AbortController();
    running.set(turnId, controller);
    const area = () => parts.get(turnId)?.area;
    area()?.begin(payload.judge_model || payload.cloud.model);
    updateButton(turnId);
    let message = "The connection broke before the judge finished; nothing was stored.";
    let cancelled = false;
    try {
      for await (const line of ndjson("/api/judge/stream", payload, controller.signal)) {
        if (line.type === "progress") area()?.progress(line);
        else if (line.type === "done") {
          area()?.addRun(line.run);
          message = "";
        } else if (line.type === "error") message = `The judge failed: ${line.error}`;
      }
    } catch (failure) {
      cancelled = failure.name === "AbortError";
      message = cancelled ? "Cancelled: the judge was stopped and nothing was stored." : `The judge failed: ${failure.message}`;
    } finally {
      running.delete(turnId);
      area()?.end(message, { cancelled });
      updateButton(turnId);
    }
  }

  function cancel(turnId) {
    const controller = running.get(turnId);
    if (!controller) return;
    parts.get(turnId)?.area.cancelling();
    controller.abort(); // the server stops the judge when the connection closes
  }

  function updateButton(turnId) {
    const part = parts.get(turnId);
    if (part) part.area.button.hidden = running.has(turnId) || part.blocked();
  }

  form.addEventListener("submit", (event) => {
    if (event.submitter?.value === "cancel") return; // let the dialog close
    event.preventDefault();
    send();
  });
  dialog.addEventListener("close", () => {
    apiKey.value = "";
  });
  modeSelect.addEventListener("change", refresh);
  modelSelect.addEventListener("change", refresh);
  providerSelect.addEventListener("change", refresh);
  cloudBox.addEventListener("change", () => {
    refresh();
    if (cloudBox.checked) loadProviders();
  });

  /** Every stored verdict of the open conversation, under its turn. */
  async function loadStored(conversationId) {
    let judgments;
    try {
      const query = new URLSearchParams({ conversation_id: conversationId, limit: String(STORED_LIMIT) });
      judgments = (await requestJson("GET", `/api/judge?${query}`)).judgments;
    } catch {
      return; // the answers are still there; the next open tries again
    }
    if (state.conversation?.id !== conversationId) return;
    const byTurn = new Map();
    for (const judgment of judgments) {
      if (!byTurn.has(judgment.turn_id)) byTurn.set(judgment.turn_id, []);
      byTurn.get(judgment.turn_id).push(judgment);
    }
    for (const [turnId, turnJudgments] of byTurn) parts.get(turnId)?.area.setRuns(runsFrom(turnJudgments));
  }

  on("conversation-opened", (detail) => loadStored(detail.id));
  // A regenerate (or a new turn) has ended: a verdict about a replaced answer now says so.
  on("streaming-changed", () => {
    if (!isStreaming() && state.conversation) loadStored(state.conversation.id);
  });

  /** The per-turn part: the Judge button and where its runs show (see transcript.js). */
  function attach(view) {
    const area = createJudgeArea({
      nameOf: (key) => nameOf(view, key),
      onJudge: () => open(view),
      onCancel: () => cancel(view.id),
    });
    // No judging while answers stream, nor of a turn without a finished answer.
    parts.set(view.id, { area, blocked: () => answering(view) || answered(view).length === 0 });
    if (running.has(view.id)) area.begin("the judge"); // a run started before this turn was shown again
    return {
      node: area.node,
      update: () => updateButton(view.id),
    };
  }

  return { attach };
}
