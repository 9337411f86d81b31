// What the page knows right now, and a small event bus so modules need not import each other.

export const state = {
  spec: [], // hyperparameter fields (see instances.js)
  models: [], // /api/models details
  engines: [], // /api/models engines: each endpoint and whether it answers
  hub: null, // /api/models hf_endpoint: where hf:<org>/<repo> pulls come from (null: off)
  selection: [], // instances the next message goes to (full objects), shown as chips
  blind: false, // blind mode for a conversation not started yet
  conversation: null, // ConversationDetail of the open conversation, or null for a new one
  allBeforeFocus: null, // the selection before "continue with this model", to go back to
  attachments: [], // files attached to the next message: {filename, size, text}
  streams: new Set(), // AbortControllers of streams in flight
  maxInstances: 6,
};

const bus = new EventTarget();

export function emit(name, detail) {
  bus.dispatchEvent(new CustomEvent(name, { detail }));
}

export function on(name, handler) {
  bus.addEventListener(name, (event) => handler(event.detail));
}

/** Blind and not revealed yet: nothing may show which model is which. */
export function isMasked(conversation = state.conversation) {
  return Boolean(conversation && conversation.blind && !conversation.revealed_at);
}

export function isStreaming() {
  return state.streams.size > 0;
}

/** The conversation's instance entry for a key (instance id, or label while masked). */
export function entryFor(key) {
  return state.conversation?.instances.find((entry) => entry.key === key) || null;
}
