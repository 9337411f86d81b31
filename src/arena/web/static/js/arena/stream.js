// Run one /api/stream_chat request: route each NDJSON line to its card, render finished answers
// through the server, and keep every other card going when one fails.

import { api } from "../lib/api.js";
import { emit, state } from "./store.js";
import { METRICS_HIDDEN_NOTE, metricsHidden, showSpeed } from "./blind.js";

/** Turn a finished card's text into the server's sanitised HTML; plain text stays if that fails. */
export async function renderAnswer(card) {
  if (!card.text) return;
  try {
    const { html } = await api.render(card.text);
    card.showHtml(html);
  } catch {
    // The plain text is still there and readable.
  }
}

/**
 * `start(first)` gets the stream's first line ({conversation_id, turn_id, instances}) and returns
 * a view with `card(key)` and `updateCrown()`. Resolves with the first line once the stream ends.
 * Errors before the first line are thrown (nothing was shown yet); later ones land in the cards.
 * While the server has no free slot, `onQueued(ahead)` hears how many requests are ahead, then
 * `onQueued(null)` once the answers start; a request refused while it waited is thrown.
 */
export async function runStream(body, start, { onQueued = () => {} } = {}) {
  const controller = new AbortController();
  state.streams.add(controller);
  emit("streaming-changed");
  let first = null;
  let view = null;
  const open = new Set();
  try {
    for await (const line of api.streamChat(body, controller.signal, { showMetrics: showSpeed() })) {
      if (!first && "queued" in line) {
        if (!line.queued) throw Object.assign(new Error(line.error), { status: line.status });
        onQueued(line.position);
        continue;
      }
      if (!first) {
        onQueued(null);
        first = line;
        view = await start(line);
        for (const { instance_id } of line.instances) open.add(instance_id);
        continue;
      }
      const card = view.card(line.instance_id);
      if (!card) continue;
      if (!line.done) {
        card.append(line.token);
        continue;
      }
      open.delete(line.instance_id);
      const status = line.status || (line.error ? "error" : "ok");
      card.finish({ status, metrics: line.metrics, error: line.error, responseId: line.response_id ?? null });
      if (!line.metrics && metricsHidden()) card.setHiddenMetrics(METRICS_HIDDEN_NOTE);
      view.updateCrown();
      renderAnswer(card);
      if (!open.size) release(controller); // every answer is in: the next message may go
    }
    // The stream ended without a done line for some instance: say so rather than spin forever.
    closeOpenCards(view, open, "error", "the stream ended before this answer finished");
  } catch (error) {
    if (!view) throw error;
    if (error.name === "AbortError") closeOpenCards(view, open, "stopped");
    else closeOpenCards(view, open, "error", `the connection broke: ${error.message}`);
  } finally {
    release(controller);
  }
  return first;
}

function release(controller) {
  if (state.streams.delete(controller)) emit("streaming-changed");
}

function closeOpenCards(view, open, status, error) {
  if (!view) return;
  for (const key of open) {
    const card = view.card(key);
    if (!card) continue;
    card.finish({ status, error });
    renderAnswer(card);
  }
  open.clear();
  view.updateCrown();
}

/** Stop-all: abort every stream in flight; the server then stops and records each instance. */
export function stopAllStreams() {
  for (const controller of state.streams) controller.abort();
}
