// The benchmarks page: start a run from a prompt file, follow every run live, cancel, resume,
// open or download its report. All state lives on the server; this page polls it.

import { ApiError, request, requestJson, setToken } from "../lib/api.js";
import { byId, clear, el, showError } from "../lib/dom.js";
import { saveBlob } from "../lib/download.js";
import { watchJudgeTrust } from "../lib/judge-trust.js";

const ACTIVE = new Set(["pending", "queued", "running", "cancelling"]);
const FAST_POLL_MS = 1000;
const SLOW_POLL_MS = 5000;

const tokenRequired = document.body.dataset.tokenRequired === "true";
const instances = []; // {model, temperature, num_predict, seed}
let pollTimer = null;

function describeInstance(instance) {
  return `${instance.model} · T ${instance.temperature} · max ${instance.num_predict} · seed ${instance.seed}`;
}

function sameInstance(a, b) {
  return ["model", "temperature", "num_predict", "seed"].every((key) => a[key] === b[key]);
}

function numberOf(input, fallback) {
  const value = Number(input.value);
  return input.value === "" || Number.isNaN(value) ? fallback : value;
}

function renderInstances() {
  const list = clear(byId("instance-list"));
  instances.forEach((instance, index) => {
    list.append(
      el(
        "li",
        { class: "bench-chip" },
        el("span", {}, describeInstance(instance)),
        el("button", {
          type: "button",
          class: "ghost small",
          "aria-label": `Remove ${describeInstance(instance)}`,
          onclick: () => {
            instances.splice(index, 1);
            renderInstances();
          },
        }, "✕"),
      ),
    );
  });
  const baseline = clear(byId("judge-baseline"));
  instances.forEach((instance, index) => baseline.append(el("option", { value: String(index) }, describeInstance(instance))));
}

function addInstance() {
  const model = byId("instance-model").value;
  if (!model) return showError(byId("bench-error"), "Pick a model first.");
  const instance = {
    model,
    temperature: numberOf(byId("instance-temperature"), 0.7),
    num_predict: numberOf(byId("instance-num-predict"), -1),
    seed: numberOf(byId("instance-seed"), 0),
  };
  if (instances.some((other) => sameInstance(other, instance))) {
    return showError(byId("bench-error"), "That model is already in the run with these settings.");
  }
  showError(byId("bench-error"), "");
  instances.push(instance);
  renderInstances();
}

const reloadTrust = watchJudgeTrust(byId("judge-model")); // warns of a judge that flips with the order

async function loadModels() {
  reloadTrust();
  try {
    // `details` carries full ids (`ollama:llama3.2:1b`); the legacy `models` list has v3's bare names.
    const { details } = await requestJson("GET", "/api/models");
    const picker = clear(byId("instance-model"));
    const judge = byId("judge-model");
    for (const model of details.map((entry) => entry.id)) {
      picker.append(el("option", { value: model }, model));
      judge.append(el("option", { value: model }, model));
    }
  } catch (error) {
    showError(byId("bench-error"), `Could not list the models: ${error.message}`);
  }
}

function runConfig() {
  const config = {
    instances,
    repeats: numberOf(byId("bench-repeats"), 1),
    concurrency: numberOf(byId("bench-concurrency"), 2),
  };
  const seed = byId("bench-seed").value;
  if (seed !== "") config.seed = Number(seed);
  const name = byId("bench-name").value.trim();
  if (name) config.name = name;
  const judgeModel = byId("judge-model").value;
  if (judgeModel) {
    const mode = byId("judge-mode").value;
    config.judge = { instance: { model: judgeModel, num_predict: numberOf(byId("judge-num-predict"), 512) }, mode };
    if (mode === "baseline") config.judge.baseline = Number(byId("judge-baseline").value);
  }
  return config;
}

async function startRun(event) {
  event.preventDefault();
  const errorBox = byId("bench-error");
  const file = byId("bench-prompts").files[0];
  if (!file) return showError(errorBox, "Choose a prompt file.");
  // A promptfoo config with providers runs them when no model is added here.
  const config = /\.ya?ml$/i.test(file.name);
  if (!instances.length && !config) return showError(errorBox, "Add at least one model.");
  const form = new FormData();
  form.append("prompts", file, file.name);
  form.append("config", JSON.stringify(runConfig()));
  const button = byId("start-run");
  button.disabled = true;
  try {
    await requestJson("POST", "/api/bench/runs", { body: form });
    showError(errorBox, "");
    await refreshRuns();
  } catch (error) {
    showError(errorBox, error instanceof ApiError ? error.message : String(error));
  } finally {
    button.disabled = false;
  }
}

function formatDuration(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

const reportPath = (id, format) => `/api/bench/runs/${encodeURIComponent(id)}/report?format=${format}`;

async function download(id, format) {
  try {
    const response = await request("GET", reportPath(id, format));
    saveBlob(await response.blob(), `bench-${id.slice(0, 8)}.${format}`);
  } catch (error) {
    showError(byId("bench-error"), error.message);
  }
}

function reportLinks(run) {
  if (!run.finished) return [];
  const formats = ["md", "json", "csv"];
  if (tokenRequired) {
    // A link cannot carry the bearer token: fetch and save instead.
    return ["html", ...formats].map((format) =>
      el("button", { type: "button", class: "small", onclick: () => download(run.id, format) }, format.toUpperCase()),
    );
  }
  return [
    el("a", { class: "button small", href: reportPath(run.id, "html"), target: "_blank", rel: "noopener", "data-role": "report" }, "Report"),
    ...formats.map((format) => el("a", { class: "button small ghost", href: reportPath(run.id, format), download: "" }, format)),
  ];
}

async function act(run, action) {
  try {
    await requestJson("POST", `/api/bench/runs/${encodeURIComponent(run.id)}/${action}`, action === "resume" ? { json: { retry_errors: run.status === "done" } } : {});
    await refreshRuns();
  } catch (error) {
    showError(byId("bench-error"), error.message);
  }
}

function actions(run) {
  const buttons = [];
  if (ACTIVE.has(run.status) && run.status !== "cancelling") {
    buttons.push(el("button", { type: "button", class: "small danger", onclick: () => act(run, "cancel") }, "Cancel"));
  }
  if (run.status === "interrupted" || run.status === "cancelled" || (run.status === "done" && run.failed)) {
    const label = run.status === "done" ? "Retry failed" : "Resume";
    buttons.push(el("button", { type: "button", class: "small", onclick: () => act(run, "resume") }, label));
  }
  return [...buttons, ...reportLinks(run)];
}

// A promptfoo run's tests graded so far, as promptfoo counts them; "–" for a plain prompt set.
function testsText(tests) {
  if (!tests || !tests.total) return "–";
  return `${tests.passed}/${tests.total} (${Math.round((100 * tests.passed) / tests.total)}%)`;
}

function runRow(run) {
  const percent = run.total ? Math.round((100 * run.finished) / run.total) : 0;
  return el(
    "tr",
    { dataset: { runId: run.id, status: run.status } },
    el("td", {}, el("strong", {}, run.name), el("div", { class: "bench-id" }, `${run.id.slice(0, 12)} · ${run.prompt_set}`)),
    // data-label: a phone shows each run as a card of labelled lines (bench.css)
    el(
      "td",
      { dataset: { label: "Status" } },
      el("span", { class: `bench-status status-${run.status}` }, run.status),
      // ARENA_BENCH_RUNNER=workers: the server only queues; say so when no worker takes the run
      run.waiting_for_worker ? el("div", { class: "bench-waiting" }, "waiting for a worker (arena bench worker)") : null,
    ),
    el(
      "td",
      { class: "bench-progress", dataset: { label: "Progress" } },
      el("progress", { max: String(run.total || 1), value: String(run.finished), "aria-label": `${run.name}: ${percent}% finished` }),
      el("span", { class: "bench-count" }, `${run.finished} / ${run.total}`),
    ),
    el("td", { class: run.failed ? "bench-failed" : "", dataset: { label: "Failed" } }, String(run.failed)),
    el("td", { dataset: { label: "Tests passed" } }, testsText(run.tests)),
    el("td", { dataset: { label: "Time left" } }, ACTIVE.has(run.status) ? formatDuration(run.eta_s) : "–"),
    el("td", { class: "bench-actions-cell" }, el("div", { class: "bench-actions" }, ...actions(run))),
  );
}

async function refreshRuns() {
  clearTimeout(pollTimer);
  let delay = SLOW_POLL_MS;
  try {
    const { runs } = await requestJson("GET", "/api/bench/runs?limit=50");
    byId("runs-empty").hidden = runs.length > 0;
    byId("runs-table").hidden = runs.length === 0;
    byId("runs-body").replaceChildren(...runs.map(runRow));
    if (runs.some((run) => ACTIVE.has(run.status))) delay = FAST_POLL_MS;
  } catch (error) {
    showError(byId("bench-error"), error.message);
  }
  pollTimer = setTimeout(refreshRuns, delay);
}

function init() {
  if (tokenRequired) {
    byId("token-field").hidden = false;
    byId("bench-token").addEventListener("change", (event) => {
      setToken(event.target.value.trim());
      loadModels();
      refreshRuns();
    });
  }
  byId("add-instance").addEventListener("click", addInstance);
  byId("judge-mode").addEventListener("change", (event) => {
    byId("baseline-label").hidden = event.target.value !== "baseline";
  });
  byId("bench-form").addEventListener("submit", startRun);
  loadModels();
  refreshRuns();
}

init();
