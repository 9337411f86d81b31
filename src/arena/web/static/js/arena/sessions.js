// The sidebar: conversations stored on the server, newest activity first; open, rename,
// delete, search by title. Nothing lives in localStorage, so a reload or restart loses nothing.

import { api } from "../lib/api.js";
import { confirmAction } from "./dialogs.js";
import { byId, clear, el, icon } from "../lib/dom.js";
import { formatWhen } from "../lib/format.js";
import { notifyError } from "../lib/notify.js";
import { on, state } from "./store.js";

const PAGE_SIZE = 50;
const SEARCH_DELAY_MS = 200;
const API_LIMIT = 200; // the most GET /api/conversations lists at once

export function createSessions({ open, startNew }) {
  const list = byId("session-list");
  const empty = byId("session-empty");
  const search = byId("session-search");
  const more = byId("session-more");
  const sidebar = byId("sessions");
  const toggle = byId("sidebar-toggle");
  let shown = PAGE_SIZE;
  let searchTimer = null;

  /** The first `count` conversations, a page the API allows at a time (it returns at most API_LIMIT). */
  async function listUpTo(term, count) {
    const found = [];
    while (found.length < count) {
      const limit = Math.min(API_LIMIT, count - found.length);
      const { conversations } = await api.conversations({ search: term, limit, offset: found.length });
      found.push(...conversations);
      if (conversations.length < limit) break;
    }
    return found;
  }

  async function refresh() {
    const term = search.value.trim();
    try {
      const conversations = await listUpTo(term, shown + 1);
      render(conversations.slice(0, shown));
      more.hidden = conversations.length <= shown;
      empty.textContent = term ? `No conversation title contains “${term}”.` : "No conversations yet.";
      empty.hidden = conversations.length > 0;
    } catch (error) {
      empty.textContent = `Conversations could not be listed: ${error.message}`;
      empty.hidden = false;
    }
  }

  function render(conversations) {
    clear(list);
    for (const conversation of conversations) list.append(item(conversation));
  }

  function item(conversation) {
    const current = conversation.id === state.conversation?.id;
    const row = el("li", { class: "session", "aria-current": current ? "true" : null, dataset: { id: conversation.id } });
    const openButton = el("button", { type: "button", class: "session-open", onclick: () => choose(conversation.id) },
      el("span", { class: "session-title" }, conversation.title || "Untitled"),
      el("span", { class: "session-meta" },
        conversation.blind ? el("span", { class: "badge badge-blind" }, conversation.revealed_at ? "blind · revealed" : "blind") : null,
        conversation.imported ? el("span", { class: "badge badge-imported", title: "Imported: its votes stay off the leaderboard" }, "imported") : null,
        el("time", { datetime: conversation.updated_at }, formatWhen(conversation.updated_at))));
    const actions = el("span", { class: "session-actions" },
      el("button", { type: "button", "aria-label": `Rename “${conversation.title}”`, title: "Rename", onclick: () => rename(row, conversation) }, icon("pencil")),
      el("button", { type: "button", "aria-label": `Delete “${conversation.title}”`, title: "Delete", onclick: () => remove(conversation) }, icon("trash")));
    row.append(openButton, actions);
    return row;
  }

  function choose(id) {
    sidebar.classList.remove("open");
    toggle.setAttribute("aria-expanded", "false");
    open(id);
  }

  function rename(row, conversation) {
    const input = el("input", { type: "text", class: "session-rename", value: conversation.title, maxlength: "200", "aria-label": "New title" });
    let done = false;
    const finish = async (save) => {
      if (done) return;
      done = true;
      const title = input.value.trim();
      if (save && title && title !== conversation.title) {
        try {
          const updated = await api.renameConversation(conversation.id, title);
          if (state.conversation?.id === conversation.id) {
            state.conversation.title = updated.title;
            byId("conversation-title").textContent = updated.title;
          }
        } catch (error) {
          notifyError(`Not renamed: ${error.message}`);
        }
      }
      refresh();
    };
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") finish(true);
      if (event.key === "Escape") {
        event.stopPropagation();
        finish(false);
      }
    });
    input.addEventListener("blur", () => finish(true));
    row.replaceChildren(input);
    input.focus();
    input.select();
  }

  async function remove(conversation) {
    const confirmed = await confirmAction({
      title: "Delete this conversation?",
      message: `“${conversation.title}” and all its answers and votes will be deleted. This cannot be undone.`,
      confirmLabel: "Delete",
    });
    if (!confirmed) return;
    try {
      await api.deleteConversation(conversation.id);
      if (state.conversation?.id === conversation.id) startNew();
    } catch (error) {
      notifyError(`Not deleted: ${error.message}`);
    }
    refresh();
  }

  search.addEventListener("input", () => {
    clearTimeout(searchTimer);
    searchTimer = setTimeout(() => {
      shown = PAGE_SIZE;
      refresh();
    }, SEARCH_DELAY_MS);
  });
  more.addEventListener("click", () => {
    shown += PAGE_SIZE;
    refresh();
  });
  byId("new-conversation").addEventListener("click", () => {
    sidebar.classList.remove("open");
    startNew();
  });
  toggle.addEventListener("click", () => {
    const opened = sidebar.classList.toggle("open");
    toggle.setAttribute("aria-expanded", String(opened));
  });
  on("sessions-changed", refresh);
  on("conversation-changed", () => {
    for (const row of list.children) row.setAttribute("aria-current", String(row.dataset.id === state.conversation?.id));
  });

  return { refresh };
}
