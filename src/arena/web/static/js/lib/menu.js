// The header's menu button (shown below 1024 px, see layout.css): it opens the pages and the
// header's controls as a panel under the header. Esc, a click elsewhere or a choice closes it.

const button = document.getElementById("menu-button");
const panel = document.getElementById("header-menu");

function setOpen(open, { returnFocus = false } = {}) {
  panel.classList.toggle("open", open);
  button.setAttribute("aria-expanded", String(open));
  if (!open && returnFocus) button.focus();
}

const isOpen = () => button.getAttribute("aria-expanded") === "true";

if (button && panel) {
  button.addEventListener("click", () => setOpen(!isOpen()));
  // Caught on the way down, before the arena's shortcuts: an Esc that closes the menu is spent
  // on it and does not also stop the running streams.
  window.addEventListener(
    "keydown",
    (event) => {
      if (event.key !== "Escape" || !isOpen()) return;
      event.stopPropagation();
      setOpen(false, { returnFocus: panel.contains(document.activeElement) });
    },
    { capture: true },
  );
  document.addEventListener("click", (event) => {
    if (isOpen() && !button.contains(event.target) && !panel.contains(event.target)) setOpen(false);
  });
  // A link or a button in the panel is a choice made: the panel has done its job.
  panel.addEventListener("click", (event) => {
    if (event.target.closest("a, button")) setOpen(false);
  });
  // Grown past the breakpoint, the header shows everything again: forget the open state.
  window.matchMedia("(min-width: 1024px)").addEventListener("change", () => setOpen(false));
}
