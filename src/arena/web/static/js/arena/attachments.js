// Attach text files to the next message. The server checks each one (size, type, UTF-8) and
// returns its text; a refused file shows the server's reason.

import { api } from "../lib/api.js";
import { byId, clear, el, icon, showError } from "../lib/dom.js";
import { formatBytes } from "../lib/format.js";
import { emit, on, state } from "./store.js";

export function createAttachments() {
  const input = byId("attach-input");
  const list = byId("attachment-list");
  const error = byId("composer-error");
  const maxBytes = Number(document.body.dataset.maxUploadBytes) || Infinity;

  async function upload(file) {
    if (file.size > maxBytes) {
      return `${file.name} is ${formatBytes(file.size)}: files up to ${formatBytes(maxBytes)} can be attached.`;
    }
    try {
      const attached = await api.uploadAttachment(file);
      state.attachments = [...state.attachments, attached];
      emit("attachments-changed");
      return null;
    } catch (failure) {
      return `${file.name}: ${failure.message}`;
    }
  }

  function render() {
    clear(list);
    for (const attached of state.attachments) {
      const label = `${attached.filename} (${formatBytes(attached.size)})`;
      list.append(el("li", { class: "chip" }, icon("file"), el("span", { class: "chip-label" }, label),
        el("button", { type: "button", "aria-label": `Remove ${attached.filename}`, onclick: () => removeAttachment(attached) }, "✕")));
    }
  }

  function removeAttachment(attached) {
    state.attachments = state.attachments.filter((item) => item !== attached);
    emit("attachments-changed");
  }

  byId("attach-button").addEventListener("click", () => input.click());
  input.addEventListener("change", async () => {
    const files = [...input.files];
    input.value = "";
    showError(error, "");
    const refusals = (await Promise.all(files.map(upload))).filter(Boolean);
    showError(error, refusals.join(" "));
  });
  on("attachments-changed", render);
}
