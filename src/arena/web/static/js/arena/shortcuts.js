// Keyboard shortcuts: Ctrl+Enter send, Esc stop every stream, Ctrl+K model picker, Ctrl+E export.
// (Cmd on a Mac.) Esc is left to an open dialog or menu first.

import { isStreaming } from "./store.js";

export function installShortcuts({ send, stopAll, focusPicker, openExport }) {
  document.addEventListener("keydown", (event) => {
    const withModifier = event.ctrlKey || event.metaKey;
    if (withModifier && event.key === "Enter") {
      event.preventDefault();
      send();
    } else if (withModifier && (event.key === "k" || event.key === "K")) {
      event.preventDefault();
      focusPicker();
    } else if (withModifier && (event.key === "e" || event.key === "E")) {
      event.preventDefault();
      openExport();
    } else if (event.key === "Escape" && isStreaming() && !document.querySelector("dialog[open]")) {
      event.preventDefault();
      stopAll();
    }
  });
}
