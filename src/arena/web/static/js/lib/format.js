// Numbers, sizes, times and model names as people read them.

export function formatBytes(bytes) {
  if (bytes === null || bytes === undefined || Number.isNaN(bytes)) return "";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

export function formatSeconds(seconds) {
  if (seconds === null || seconds === undefined) return "–";
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  return `${seconds.toFixed(seconds < 10 ? 2 : 1)} s`;
}

export function formatRate(tokensPerSecond) {
  if (tokensPerSecond === null || tokensPerSecond === undefined) return "–";
  return `${tokensPerSecond.toFixed(tokensPerSecond < 100 ? 1 : 0)} tok/s`;
}

export function formatCount(value) {
  return value === null || value === undefined ? "–" : String(value);
}

/** "2 min ago", "yesterday", or a date: how a sidebar reads. */
export function formatWhen(isoText) {
  const when = new Date(isoText.endsWith("Z") || /[+-]\d\d:\d\d$/.test(isoText) ? isoText : `${isoText}Z`);
  const seconds = (Date.now() - when.getTime()) / 1000;
  if (seconds < 60) return "just now";
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ago`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)} h ago`;
  if (seconds < 2 * 86400) return "yesterday";
  return when.toLocaleDateString(undefined, { month: "short", day: "numeric", year: "numeric" });
}

/** `local:smollm2-135m-instruct` → `smollm2-135m`; `openai:lab/qwen` → `qwen`; `ollama:llama3.2:1b` → `llama3.2:1b`. */
export function shortModelName(modelId) {
  const withoutEngine = modelId.includes(":") ? modelId.slice(modelId.indexOf(":") + 1) : modelId;
  const withoutEndpoint = withoutEngine.includes("/") ? withoutEngine.slice(withoutEngine.lastIndexOf("/") + 1) : withoutEngine;
  return withoutEndpoint.replace(/-instruct$/i, "");
}

export const ENGINE_NAMES = { local: "Embedded", ollama: "Ollama", openai: "OpenAI-compatible" };

export function engineName(engine) {
  return ENGINE_NAMES[engine] || engine;
}
