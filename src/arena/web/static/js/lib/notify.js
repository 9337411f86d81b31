// Short messages top right (base.html's #toasts, an aria-live region; errors are role=alert too).
// Every toast has a dismiss button and leaves on its own: errors after 15 s, the rest after 6 s,
// and never while the pointer is over it or focus is in it (the clock restarts when both leave).
// At most MAX_TOASTS at once: the oldest goes first, so the stack never reaches the composer.

import { el } from "./dom.js";

export const LINGER_MS = { info: 6000, success: 6000, error: 15000 };
const MAX_TOASTS = 4;

function region() {
  let found = document.getElementById("toasts");
  if (!found) {
    found = el("div", { id: "toasts", class: "toasts", role: "region", "aria-live": "polite", "aria-label": "Notifications" });
    document.body.append(found);
  }
  return found;
}

export function notify(message, { kind = "info" } = {}) {
  const stack = region();
  let timer = null;
  const dismiss = () => {
    clearTimeout(timer);
    if (toast.contains(document.activeElement)) document.activeElement.blur();
    toast.remove();
  };
  const toast = el(
    "div",
    { class: `toast ${kind}`, role: kind === "error" ? "alert" : null },
    el("p", {}, message),
    el("button", { type: "button", class: "icon-button", "aria-label": "Dismiss", onclick: dismiss }, "✕"),
  );
  const linger = () => {
    clearTimeout(timer);
    timer = setTimeout(dismiss, LINGER_MS[kind] ?? LINGER_MS.info);
  };
  const held = () => toast.matches(":hover") || toast.contains(document.activeElement);
  toast.addEventListener("mouseenter", () => clearTimeout(timer));
  toast.addEventListener("focusin", () => clearTimeout(timer));
  toast.addEventListener("mouseleave", () => held() || linger());
  toast.addEventListener("focusout", (event) => toast.contains(event.relatedTarget) || toast.matches(":hover") || linger());
  toast.addEventListener("keydown", (event) => {
    if (event.key === "Escape") {
      event.stopPropagation(); // Esc here closes the message, it does not stop the streams
      dismiss();
    }
  });

  while (stack.children.length >= MAX_TOASTS) stack.firstElementChild.remove();
  stack.append(toast);
  linger();
  return toast;
}

export const notifyError = (message) => notify(message, { kind: "error" });
export const notifySuccess = (message) => notify(message, { kind: "success" });
