// "Judge" under each finished turn: a panel (dialog) to pick a judge model (or, opted in, a cloud
// judge), the mode and a reference answer; POST /api/judge; the verdicts then show under the turn.
// The cloud API key goes with that one request and is never kept. Judge text goes in as text only.

import { request } from "../lib/api.js";
import { byId, el, showError } from "../lib/dom.js";
import { state } from "./store.js";

const MODE_TITLES = { pairwise: "Pairwise verdict", single: "Grades", reference: "Grades against the reference" };

export function createJudge() {
  const dialog = byId("judge-dialog");
  const form = byId("judge-form");
  const modelSelect = byId("judge-model");
  const modeSelect = byId("judge-mode");
  const referenceField = byId("judge-reference-field");
  const reference = byId("judge-reference");
  const cloudBox = byId("judge-cloud");
  const cloudFields = byId("judge-cloud-fields");
  const privacy = byId("judge-privacy");
  const providerSelect = byId("judge-provider");
  const cloudModel = byId("judge-cloud-model");
  const apiKey = byId("judge-api-key");
  const keyHint = byId("judge-key-hint");
  const status = byId("judge-status");
  const error = byId("judge-error");
  const sendButton = byId("judge-send");
  let current = null; // the turn view being judged
  let providers = null; // /api/judge/cloud, loaded when the box is first ticked
  let sending = false;

  const answered = (view) => [...view.cards.values()].filter((card) => card.status === "ok");
  const running = (view) => [...view.cards.values()].some((card) => card.status === "waiting" || card.status === "streaming");
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
    sendButton.disabled = sending || (cloud ? !chosen : !modelSelect.value);
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
    modeSelect.querySelector("option[value=pairwise]").disabled = count < 2;
    if (count < 2 && modeSelect.value === "pairwise") modeSelect.value = "single";
    byId("judge-turn").textContent = `${count} answer${count === 1 ? "" : "s"}: ${answered(view).map((card) => card.title).join(", ")}`;
    showError(error, "");
    status.textContent = "";
    refresh();
    if (!dialog.open) dialog.showModal();
  }

  function body() {
    const payload = { conversation_id: state.conversation?.id, turn_id: current.id, mode: modeSelect.value };
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

  async function send() {
    if (!current || sending) return;
    if (modeSelect.value === "reference" && !reference.value.trim()) {
      showError(error, "Write the reference answer first.");
      return;
    }
    if (cloudBox.checked && !cloudModel.value.trim()) {
      showError(error, "Name the cloud model first.");
      return;
    }
    const view = current;
    sending = true;
    showError(error, "");
    status.textContent = "Judging…";
    refresh();
    try {
      const response = await request("POST", "/api/judge", { json: body() });
      view.judge.show(await response.json());
      status.textContent = "";
      dialog.close();
    } catch (failure) {
      status.textContent = "";
      showError(error, failure.message);
    } finally {
      apiKey.value = ""; // the key served this one request
      sending = false;
      refresh();
    }
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

  function judgmentNode(view, judgment) {
    const explanations = [...new Set(judgment.orders.map((order) => order.explanation).filter(Boolean))];
    let verdict;
    let note = null;
    if (judgment.mode === "pairwise") {
      const pair = `${nameOf(view, judgment.key_a)} vs ${nameOf(view, judgment.key_b)}`;
      verdict = judgment.winner_key ? `${pair}: ${nameOf(view, judgment.winner_key)} wins` : `${pair}: tie`;
      if (judgment.consistent === false) {
        note = "Inconsistent: the verdict changed when the answers were swapped, so it counts as a tie.";
      }
    } else {
      const score = judgment.score === null || judgment.score === undefined ? "no grade" : `${judgment.score}/10`;
      verdict = `${nameOf(view, judgment.key_a)}: ${score}`;
    }
    return el("div", { class: "judgment", dataset: { winner: judgment.winner_key || "", consistent: String(judgment.consistent) } },
      el("p", { class: "judgment-verdict" }, verdict),
      judgment.mode === "pairwise" && judgment.consistent ? el("p", { class: "judge-hint" }, "Consistent in both orders.") : null,
      note ? el("p", { class: "judgment-note" }, note) : null,
      explanations.map((text) => el("p", { class: "judgment-explanation" }, text)));
  }

  /** The per-turn part: the Judge button and where its verdicts show (see transcript.js). */
  function attach(view) {
    const button = el("button", { type: "button", class: "small judge-button", hidden: true, onclick: () => open(view) }, "Judge");
    const results = el("div", { class: "judge-results", "aria-label": "Judge verdicts", hidden: true });
    const node = el("div", { class: "judge" }, el("div", { class: "judge-row" }, button), results);
    return {
      node,
      update() {
        button.hidden = running(view) || answered(view).length === 0;
      },
      show(outcome) {
        const by = outcome.cloud ? `${outcome.judge_model}, in the cloud (sent to ${outcome.sent_to})` : outcome.judge_model;
        results.replaceChildren(
          el("h4", {}, `${MODE_TITLES[outcome.mode] || outcome.mode} by ${by}`),
          ...outcome.judgments.map((judgment) => judgmentNode(view, judgment)),
        );
        results.hidden = false;
      },
    };
  }

  return { attach };
}
