// The one client of the arena's HTTP API: JSON calls, NDJSON streams, downloads and uploads.
// Every failure becomes an ApiError carrying the server's own `{"error": ...}` message.

import { filenameFrom } from "./download.js";
import { NdjsonDecoder } from "./ndjson.js";

const TOKEN_KEY = "arena.token";

export class ApiError extends Error {
  constructor(status, message, reason = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.reason = reason; // the server's "reason" field, where it gives one (e.g. "stale_answer")
  }
}

let unauthorizedHandler = null;

/** Called on a 401, e.g. to ask for WEB_CHAT_TOKEN. */
export function onUnauthorized(handler) {
  unauthorizedHandler = handler;
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
}

// With accounts, the page carries its session's CSRF token; every change must send it back.
const csrfToken = document.querySelector('meta[name="csrf-token"]')?.content || null;
const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

function headers(method, extra) {
  const token = sessionStorage.getItem(TOKEN_KEY);
  const all = token ? { ...extra, Authorization: `Bearer ${token}` } : { ...extra };
  if (csrfToken && !SAFE_METHODS.has(method)) all["X-CSRF-Token"] = csrfToken;
  return all;
}

let loggingOut = false;

/** End this browser's session on the server, then go to the login page — or, after a single
 * sign-on, to the identity provider's end-session page, which comes back to it. */
export async function logOut() {
  loggingOut = true;
  let next = "/login";
  try {
    const answer = await requestJson("POST", "/api/auth/logout");
    if (answer && typeof answer.end_session_url === "string") next = answer.end_session_url;
  } finally {
    window.location.assign(next);
  }
}

async function errorFrom(response) {
  let message = `The server answered ${response.status} ${response.statusText}`.trim();
  let reason = null;
  try {
    const body = await response.json();
    if (body && typeof body.error === "string") message = body.error;
    if (body && typeof body.reason === "string") reason = body.reason;
  } catch {
    // Not JSON: keep the status line.
  }
  if (response.status === 401 && csrfToken) {
    // The session ended (logout elsewhere, idle or too old): log in again, then come back —
    // unless this page is logging out, where a request still in flight must not redirect it.
    if (!loggingOut) window.location.assign(`/login?next=${encodeURIComponent(window.location.pathname)}`);
  } else if (response.status === 401 && unauthorizedHandler) unauthorizedHandler();
  return new ApiError(response.status, message, reason);
}

export async function request(method, path, { json, body, signal } = {}) {
  const init = { method, signal, headers: headers(method, json === undefined ? {} : { "Content-Type": "application/json" }) };
  if (json !== undefined) init.body = JSON.stringify(json);
  else if (body !== undefined) init.body = body;
  let response;
  try {
    response = await fetch(path, init);
  } catch (error) {
    if (error.name === "AbortError") throw error;
    throw new ApiError(0, "The arena server cannot be reached. Is it still running?");
  }
  if (!response.ok) throw await errorFrom(response);
  return response;
}

async function jsonOf(response) {
  return response.status === 204 ? null : response.json();
}

/** request(), then the answer's JSON (null for 204 No Content). */
export async function requestJson(method, path, options) {
  return jsonOf(await request(method, path, options));
}

const get = (path, options) => requestJson("GET", path, options);
const post = (path, json, options) => requestJson("POST", path, { ...options, json });

/** Yield each NDJSON object of a streamed response as it arrives. */
export async function* ndjson(path, json, signal) {
  const response = await request("POST", path, { json, signal });
  const reader = response.body.getReader();
  const decoder = new NdjsonDecoder();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      yield* decoder.feed(value);
    }
    yield* decoder.flush();
  } finally {
    reader.releaseLock();
  }
}

const query = (params) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== "") search.set(key, value);
  const text = search.toString();
  return text ? `?${text}` : "";
};

const conversationPath = (id) => `/api/conversations/${encodeURIComponent(id)}`;

export const api = {
  models: (refresh = false) => get(`/api/models${refresh ? "?refresh=true" : ""}`),
  conversations: ({ search, limit, offset } = {}) => get(`/api/conversations${query({ search, limit, offset })}`),
  // showMetrics: a blind conversation's metrics before the reveal (kept back unless asked).
  conversation: (id, { showMetrics = false } = {}) => get(`${conversationPath(id)}${query({ show_metrics: showMetrics || undefined })}`),
  createConversation: (body) => post("/api/conversations", body),
  renameConversation: (id, title) => requestJson("PATCH", conversationPath(id), { json: { title } }),
  deleteConversation: (id) => requestJson("DELETE", conversationPath(id)),
  vote: (id, body) => post(`${conversationPath(id)}/votes`, body),
  reveal: (id) => post(`${conversationPath(id)}/reveal`, {}),
  // Which two of `candidates` (model ids) a blind battle should compare next, and the known categories.
  // `category`: the one the voter typed, so the pair is chosen from that category's board.
  nextPair: (candidates, category) => {
    const params = new URLSearchParams(candidates.map((c) => ["candidate", c]));
    if (category) params.set("category", category);
    return get(`/api/leaderboard/next-pair?${params}`);
  },
  nextPairCategories: async () => (await get("/api/leaderboard?rounds=0")).categories,
  render: (markdown) => post("/api/render", { markdown }),
  stop: (turnId, key) => post("/api/stop", { turn_id: turnId, key }),
  // The arena's own lines (v3's are the default, for v3's clients); progress needs the streaming pull.
  streamChat: (body, signal, { showMetrics = false } = {}) =>
    ndjson(`/api/stream_chat?format=arena${showMetrics ? "&show_metrics=true" : ""}`, body, signal),
  // `endpoint`: one of several Ollama endpoints; without it a delete removes every copy.
  pullModel: (model, signal, endpoint) => ndjson("/api/models/pull", endpoint ? { model, endpoint } : { model }, signal),
  deleteModel: (model, endpoint) => post("/api/delete_model", endpoint ? { model, endpoint } : { model }),

  /** The export as a Blob and the file name the server chose. */
  async exportConversation(id, format) {
    const response = await request("GET", `${conversationPath(id)}/export${query({ format })}`);
    const fallback = `conversation-${id.slice(0, 8)}.${format === "markdown" ? "md" : format}`;
    return { blob: await response.blob(), filename: filenameFrom(response.headers.get("Content-Disposition"), fallback) };
  },

  /** The server reads the file and says what is wrong with a malformed one. */
  async importConversation(file) {
    const form = new FormData();
    form.append("file", file, file.name);
    return jsonOf(await request("POST", "/api/conversations/import", { body: form }));
  },

  async uploadAttachment(file) {
    const form = new FormData();
    form.append("file", file, file.name);
    return jsonOf(await request("POST", "/api/attachments", { body: form }));
  },
};
