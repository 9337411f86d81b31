// The model manager: every engine's state and models (each once, with the endpoints serving it),
// pulling an Ollama model or a Hugging Face GGUF (hf:<org>/<repo>[:quant]) with a live progress bar, and deleting one after a confirmation. Users
// who may not pull or delete (the server refuses them) get neither control: the page leaves them out.

import { api } from "../lib/api.js";
import { confirmAction } from "./dialogs.js";
import { byId, clear, el, showError } from "../lib/dom.js";
import { pullAvailability, renderEngineStates } from "./engine-states.js";
import { engineName, formatBytes } from "../lib/format.js";
import { notifySuccess } from "../lib/notify.js";
import { emit, state } from "./store.js";

const DELETABLE_ENGINES = new Set(["ollama"]);

/** `llama3.2:3b` → `ollama:llama3.2:3b`; an id with its engine (or `hf:<org>/<repo>`) stays as it is. */
export function pullId(name) {
  const trimmed = name.trim();
  return /^(ollama|local|openai|hf):/.test(trimmed) ? trimmed : `ollama:${trimmed}`;
}

/** "45% · 600 MB of 1.3 GB" from one progress line. */
export function progressText({ completed, total }) {
  if (!total) return "";
  const percent = Math.floor((100 * (completed || 0)) / total);
  return `${percent}% · ${formatBytes(completed || 0)} of ${formatBytes(total)}`;
}

export function createModelManager() {
  const dialog = byId("manager-dialog");
  const engines = byId("manager-engines");
  const engineStates = byId("manager-engine-states");
  const error = byId("manager-error");
  const canManage = dialog.dataset.canManage === "true";
  const pullForm = byId("pull-form");
  const pullEndpoint = byId("pull-endpoint");
  const unavailable = byId("pull-unavailable");
  const pullName = byId("pull-name");
  const pullButton = byId("pull-button");
  const cancelButton = byId("pull-cancel");
  const progress = byId("pull-progress");
  const bar = byId("pull-bar");
  const figures = byId("pull-figures");
  const log = byId("pull-log");
  let pulling = null;

  function renderEngines() {
    renderEngineStates(engineStates, state.engines);
    if (!canManage) return;
    const { reason, endpoints, choice } = pullAvailability(state.engines, state.hub);
    showError(unavailable, reason);
    if (!pulling) pullButton.disabled = Boolean(reason);
    // Several Ollama endpoints: say which one pulls; one that is down cannot be chosen.
    const previous = pullEndpoint.value;
    clear(pullEndpoint);
    for (const engine of endpoints) {
      pullEndpoint.append(el("option", { value: engine.endpoint, disabled: !engine.reachable },
        engine.reachable ? engine.endpoint : `${engine.endpoint} (not reachable)`));
    }
    const usable = endpoints.some((engine) => engine.endpoint === previous && engine.reachable);
    pullEndpoint.value = usable ? previous : choice;
    pullEndpoint.hidden = endpoints.length < 2;
  }

  function renderModels() {
    renderEngines();
    clear(engines);
    const kinds = [...new Set(state.models.map((model) => model.engine))];
    if (!kinds.length) engines.append(el("p", { class: "hint" }, "No engine lists any model yet."));
    for (const kind of kinds) {
      const rows = state.models.filter((model) => model.engine === kind).map((model) =>
        el("tr", { dataset: { model: model.id } },
          el("th", { scope: "row" }, model.id.slice(model.id.indexOf(":") + 1),
            model.base_model ? el("span", { class: "base-badge", title: "A base model without chat tuning" }, "base") : "",
            model.loaded ? el("span", { class: "loaded-badge", title: "In memory now" }, "loaded") : ""),
          el("td", {}, model.family || ""),
          el("td", {}, model.parameter_size || ""),
          el("td", {}, model.quantization || ""),
          el("td", { class: "number" }, formatBytes(model.size)),
          el("td", { class: "number", title: "Memory it holds when loaded" }, formatBytes(model.resident_bytes)),
          el("td", {}, (model.endpoints?.length ? model.endpoints : [model.endpoint || ""]).join(", ")),
          el("td", {}, canManage && DELETABLE_ENGINES.has(kind)
            ? el("button", { type: "button", class: "small danger", "aria-label": `Delete ${model.id}`, onclick: () => remove(model) }, "Delete")
            : "")));
      engines.append(el("section", {},
        el("h3", {}, engineName(kind)),
        el("table", { class: "data" },
          el("thead", {}, el("tr", {}, ["Model", "Family", "Parameters", "Quantization", "Size", "Memory", "Endpoint", ""].map((name) =>
            el("th", { scope: "col", class: name === "Size" || name === "Memory" ? "number" : null }, name)))),
          el("tbody", {}, rows))));
    }
  }

  async function reload() {
    try {
      const { details, engines: states, hf_endpoint: hub } = await api.models(true);
      state.models = details;
      state.hub = hub || null;
      state.engines = states || [];
      renderModels();
      emit("models-changed");
    } catch (failure) {
      showError(error, `The model list could not be loaded: ${failure.message}`);
    }
  }

  function addLog(text, kind) {
    const last = log.lastElementChild;
    if (last && last.textContent === text) return; // Ollama repeats a status for every chunk
    log.append(el("li", { class: kind || null }, text));
    log.scrollTop = log.scrollHeight;
  }

  async function pull(name) {
    showError(error, "");
    if (!name.trim()) {
      showError(error, "Type the name of the model to pull, e.g. llama3.2:3b or hf:<org>/<repo>.");
      pullName.focus();
      return;
    }
    const model = pullId(name);
    const endpoint = pullEndpoint.hidden || model.startsWith("hf:") ? "" : pullEndpoint.value; // Ollama's picker
    pulling = new AbortController();
    pullButton.disabled = true;
    cancelButton.hidden = false;
    progress.hidden = false;
    progress.classList.remove("failed");
    bar.value = 0;
    bar.removeAttribute("value"); // indeterminate until a total is known
    figures.textContent = `Pulling ${model}…`;
    clear(log);
    let failed = null;
    try {
      for await (const line of api.pullModel(model, pulling.signal, endpoint)) {
        if (line.status === "error") {
          failed = line.error || "the pull failed";
          addLog(failed, "error");
          break;
        }
        addLog(line.status);
        if (line.total) {
          bar.value = Math.floor((100 * (line.completed || 0)) / line.total);
          figures.textContent = progressText(line);
        }
      }
    } catch (failure) {
      failed = failure.name === "AbortError" ? "Pull cancelled." : failure.message;
    } finally {
      pulling = null;
      pullButton.disabled = Boolean(pullAvailability(state.engines, state.hub).reason);
      cancelButton.hidden = true;
    }
    if (failed) {
      // A value makes the bar determinate again: an indeterminate one would keep animating.
      bar.value = 0;
      progress.classList.add("failed");
      figures.textContent = `Not pulled: ${model}.`;
      showError(error, failed);
      reload(); // the engines' state may be what changed
      return;
    }
    bar.value = 100;
    figures.textContent = `Done: ${model} is ready.`;
    notifySuccess(`${model} was pulled.`);
    pullName.value = "";
    await reload();
  }

  async function remove({ id: modelId, endpoints = [] }) {
    const where = endpoints.length > 1 ? ` on every endpoint that has it (${endpoints.join(", ")})` : "";
    const confirmed = await confirmAction({
      title: "Delete this model?",
      message: `${modelId} will be removed from its engine's disk${where}. Pull it again to use it later.`,
      confirmLabel: "Delete model",
    });
    if (!confirmed) return;
    showError(error, "");
    try {
      await api.deleteModel(modelId);
      notifySuccess(`${modelId} was deleted.`);
      state.selection = state.selection.filter((instance) => instance.model !== modelId);
      emit("selection-changed");
      await reload();
    } catch (failure) {
      showError(error, `Not deleted: ${failure.message}`);
    }
  }

  if (canManage) {
    pullForm.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!pulling && !pullButton.disabled) pull(pullName.value);
    });
    cancelButton.addEventListener("click", () => pulling?.abort());
  }
  byId("manager-close").addEventListener("click", () => dialog.close());
  byId("manager-button").addEventListener("click", () => {
    showError(error, "");
    renderModels();
    dialog.showModal();
    reload();
  });
}
