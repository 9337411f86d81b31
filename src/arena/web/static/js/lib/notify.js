// Short messages in the corner; errors stay until dismissed, the rest fade after a while.

import { el } from "./dom.js";

const LINGER_MS = 6000;

export function notify(message, { kind = "info" } = {}) {
  const region = document.getElementById("toasts");
  const toast = el(
    "div",
    { class: `toast ${kind}`, role: kind === "error" ? "alert" : null },
    el("p", {}, message),
    el("button", { type: "button", class: "icon-button", "aria-label": "Dismiss", onclick: () => toast.remove() }, "✕"),
  );
  region.append(toast);
  if (kind !== "error") setTimeout(() => toast.remove(), LINGER_MS);
  return toast;
}

export const notifyError = (message) => notify(message, { kind: "error" });
export const notifySuccess = (message) => notify(message, { kind: "success" });
