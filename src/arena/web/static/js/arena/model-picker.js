// Choosing what answers: every engine's models grouped by engine, an instance's hyperparameters
// (checked against the API's ranges), the chips of the selection, and the blind-mode switch.
// A base model (no chat tuning) says so in its option, with a notice when chosen, and on its chip.

import { api } from "../lib/api.js";
import { byId, clear, el, showError } from "../lib/dom.js";
import { engineName, formatBytes } from "../lib/format.js";
import { instanceLabel, makeInstance, sameInstance, specFromInputs, validateValues } from "./instances.js";
import { emit, isMasked, on, state } from "./store.js";

export const BASE_MODEL_NOTICE =
  "Base model: it was not tuned to follow instructions or chat, so it often answers off topic. " +
  "The arena prompts it as a question-and-answer transcript; expect short, loose answers.";

export function createModelPicker() {
  const form = byId("picker-form");
  const select = byId("model-select");
  const facts = byId("model-facts");
  const notice = byId("model-notice");
  const error = byId("picker-error");
  const chips = byId("instance-chips");
  const count = byId("instance-count");
  const blindToggle = byId("blind-toggle");
  const details = byId("picker-details");
  const inputs = [...form.querySelectorAll(".field-param input")];
  state.spec = specFromInputs(inputs);
  let shownConversationId; // the picker folds away when another conversation with answers opens

  function describe(model) {
    return [engineName(model.engine), model.family, model.parameter_size, model.quantization, formatBytes(model.size)]
      .filter(Boolean)
      .join(" · ");
  }

  function renderOptions() {
    const previous = select.value;
    clear(select);
    if (!state.models.length) {
      select.append(el("option", { value: "" }, "No models found: pull one in the Model manager"));
      facts.textContent = "";
      return;
    }
    const engines = [...new Set(state.models.map((model) => model.engine))];
    for (const engine of engines) {
      const group = el("optgroup", { label: engineName(engine) });
      for (const model of state.models.filter((m) => m.engine === engine)) {
        const extra = [model.parameter_size, model.quantization, formatBytes(model.size)].filter(Boolean).join(", ");
        const name = model.id.slice(model.id.indexOf(":") + 1);
        const label = (extra ? `${name} (${extra})` : name) + (model.base_model ? " · base model" : "");
        group.append(el("option", { value: model.id, dataset: { base: model.base_model ? "true" : "false" } }, label));
      }
      select.append(group);
    }
    if (state.models.some((model) => model.id === previous)) select.value = previous;
    updateFacts();
  }

  function updateFacts() {
    const model = state.models.find((m) => m.id === select.value);
    facts.textContent = model ? describe(model) : "";
    notice.textContent = model?.base_model ? BASE_MODEL_NOTICE : "";
    notice.hidden = !model?.base_model;
  }

  async function loadModels(refresh = false) {
    try {
      const { details, engines } = await api.models(refresh);
      state.models = details;
      state.engines = engines || [];
      renderOptions();
    } catch (failure) {
      clear(select).append(el("option", { value: "" }, "Models could not be listed"));
      showError(error, `The model list could not be loaded: ${failure.message}`);
    }
  }

  function addInstance() {
    showError(error, "");
    for (const input of inputs) input.removeAttribute("aria-invalid");
    if (!select.value) {
      showError(error, "Choose a model first.");
      select.focus();
      return;
    }
    const raw = Object.fromEntries(inputs.map((input) => [input.name, input.value]));
    const { values, errors } = validateValues(state.spec, raw);
    if (errors.length) {
      for (const { name } of errors) form.elements[name].setAttribute("aria-invalid", "true");
      showError(error, errors.map((e) => e.message).join(" "));
      form.elements[errors[0].name].focus();
      return;
    }
    const instance = makeInstance(select.value, values);
    const label = instanceLabel(state.spec, instance);
    if (state.selection.some((chosen) => sameInstance(chosen, instance))) {
      showError(error, `${label} is already in the comparison. Change a setting to add the same model again.`);
      return;
    }
    if (state.selection.length >= state.maxInstances) {
      showError(error, `At most ${state.maxInstances} instances can answer at once: remove one first.`);
      return;
    }
    state.selection = [...state.selection, instance];
    state.allBeforeFocus = null;
    emit("selection-changed");
  }

  function remove(instance) {
    state.selection = state.selection.filter((chosen) => chosen !== instance);
    state.allBeforeFocus = null;
    emit("selection-changed");
  }

  function renderChips() {
    const masked = isMasked();
    const conversation = state.conversation;
    clear(chips);
    if (masked) {
      // Blind: only the labels; which is which stays hidden until the reveal.
      for (const entry of conversation.instances) chips.append(el("li", { class: "chip" }, el("span", { class: "chip-label" }, entry.label)));
    } else {
      for (const instance of state.selection) {
        const label = instanceLabel(state.spec, instance);
        const base = state.models.find((model) => model.id === instance.model)?.base_model;
        chips.append(
          el("li", { class: "chip", title: base ? `${instance.model}: a base model, not chat-tuned` : instance.model },
            el("span", { class: "chip-label" }, label),
            base ? el("span", { class: "base-badge" }, "base") : "",
            el("button", { type: "button", "aria-label": `Remove ${label}`, onclick: () => remove(instance) }, "✕")),
        );
      }
    }
    const shown = masked ? conversation.instances.length : state.selection.length;
    count.textContent = shown ? `${shown} of ${state.maxInstances} instances` : "No instances yet: pick a model and press Add instance.";
    byId("compare-all").hidden = !state.allBeforeFocus;
    form.closest(".setup").classList.toggle("locked", masked);
    // Blind mode belongs to a conversation from its start: nothing to switch in an open, sighted one.
    const sighted = Boolean(conversation && !conversation.blind);
    byId("blind-switch").hidden = sighted;
    byId("blind-hint").hidden = sighted;
    blindToggle.checked = conversation ? conversation.blind : state.blind;
    blindToggle.disabled = Boolean(conversation);
    byId("blind-hint").textContent = conversation
      ? masked ? "Blind: names stay hidden until you reveal." : "Blind conversation, revealed."
      : "Names hidden as Model A, B… until you reveal. Set it before the first message.";
  }

  form.addEventListener("submit", (event) => {
    event.preventDefault();
    addInstance();
  });
  select.addEventListener("change", updateFacts);
  for (const input of inputs) input.addEventListener("input", () => input.removeAttribute("aria-invalid"));
  blindToggle.addEventListener("change", () => {
    state.blind = blindToggle.checked;
    emit("blind-changed");
  });
  on("selection-changed", renderChips);
  on("turn-started", () => {
    details.open = false; // answers need the room now; the chips stay in view
  });
  on("conversation-changed", () => {
    const id = state.conversation?.id ?? null;
    if (id !== shownConversationId) {
      shownConversationId = id;
      details.open = !state.conversation?.turns?.length;
    }
    renderChips();
  });
  on("models-changed", renderOptions);
  renderChips();

  return {
    loadModels,
    focus() {
      details.open = true;
      select.focus();
    },
  };
}
