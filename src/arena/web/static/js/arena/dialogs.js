// A confirmation in our own <dialog> (never window.confirm, which blocks the page).

import { byId } from "../lib/dom.js";

/** Resolve true when the person confirms, false on Cancel or Esc. */
export function confirmAction({ title, message, confirmLabel = "Confirm" }) {
  const dialog = byId("confirm-dialog");
  byId("confirm-title").textContent = title;
  byId("confirm-message").textContent = message;
  byId("confirm-accept").textContent = confirmLabel;
  dialog.returnValue = "";
  dialog.showModal();
  return new Promise((resolve) => {
    dialog.addEventListener("close", () => resolve(dialog.returnValue === "confirm"), { once: true });
  });
}
