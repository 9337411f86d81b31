// Export the open conversation as JSON, Markdown or CSV (a real download), and import a JSON
// export back as a new conversation.

import { api } from "../lib/api.js";
import { byId } from "../lib/dom.js";
import { saveBlob } from "../lib/download.js";
import { notifyError, notifySuccess } from "../lib/notify.js";
import { emit, state } from "./store.js";

export function createExports({ open }) {
  const menu = byId("export-menu");
  const importInput = byId("import-input");

  async function exportAs(format) {
    menu.open = false;
    if (!state.conversation) return;
    try {
      const { blob, filename } = await api.exportConversation(state.conversation.id, format);
      saveBlob(blob, filename);
    } catch (error) {
      notifyError(`Export failed: ${error.message}`);
    }
  }

  async function importFile(file) {
    try {
      const detail = await api.importConversation(file);
      notifySuccess(`Imported “${detail.title}”.`);
      emit("sessions-changed");
      await open(detail.id);
    } catch (error) {
      notifyError(`${file.name} was not imported: ${error.message}`);
    }
  }

  for (const button of menu.querySelectorAll("button[data-format]")) {
    button.addEventListener("click", () => exportAs(button.dataset.format));
  }
  menu.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && menu.open) {
      event.stopPropagation();
      menu.open = false;
      menu.querySelector("summary").focus();
    }
  });
  document.addEventListener("click", (event) => {
    if (menu.open && !menu.contains(event.target)) menu.open = false;
  });
  byId("import-button").addEventListener("click", () => importInput.click());
  importInput.addEventListener("change", () => {
    const [file] = importInput.files;
    importInput.value = "";
    if (file) importFile(file);
  });

  return {
    /** Ctrl+E: open the export menu with its first format focused. */
    openMenu() {
      if (menu.hidden) {
        notifyError("Nothing to export yet: send a message or open a conversation first.");
        return;
      }
      menu.open = true;
      menu.querySelector("button[data-format]").focus();
    },
  };
}
