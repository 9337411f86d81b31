// What the model manager knows before anyone tries a pull: which engine endpoints answer
// (from /api/models' `engines`, the engines' own health checks) and whether pulling can work.

import { clear, el } from "../lib/dom.js";
import { engineName } from "../lib/format.js";

/** One line per engine endpoint: its name, where it runs, up or down and why. */
export function renderEngineStates(list, engines) {
  clear(list);
  if (!engines.length) {
    list.append(el("li", { class: "hint" }, "No engine is configured."));
    return;
  }
  for (const engine of engines) {
    const where = engine.endpoint === "in-process" ? "in this process" : engine.endpoint;
    list.append(el("li", { class: `engine-state ${engine.reachable ? "up" : "down"}`, dataset: { endpoint: engine.endpoint } },
      el("span", { class: "name" }, `${engineName(engine.engine)} · ${where}`),
      el("span", { class: "state" }, engine.reachable ? "reachable" : "not reachable"),
      engine.detail ? el("span", { class: "detail" }, engine.detail) : ""));
  }
}

/**
 * Whether a pull can work now, and where: `{ reason, endpoints, choice }` (`hub`: the Hugging Face
 * endpoint `hf:` pulls come from, null when they are off). `reason` is why the
 * Pull button is off (empty when it is on); `endpoints` are the engines that pull models, for the
 * endpoint picker when there are several; `choice` the first reachable one.
 */
export function pullAvailability(engines, hub = null) {
  const endpoints = engines.filter((engine) => engine.can_pull);
  const reachable = endpoints.filter((engine) => engine.reachable);
  let reason = "";
  if (hub) reason = ""; // hf:<org>/<repo> pulls come from the hub, Ollama or not (the server says if a name needs Ollama)
  else if (!endpoints.length) reason = "Pulling needs an Ollama server: none is configured (OLLAMA_HOST).";
  // The engine's own words (why it is down) are on its line in the list above: not repeated here.
  else if (!reachable.length) reason = "Pull is off: Ollama is not reachable (see above). Start it with `ollama serve`, then reopen the manager.";
  return { reason, endpoints, choice: reachable[0]?.endpoint || "" };
}
