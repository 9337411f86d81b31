// Light, dark or the system's choice; remembered in this browser.

const STORAGE_KEY = "arena.theme";

function remembered() {
  try {
    return localStorage.getItem(STORAGE_KEY) || "system";
  } catch {
    return "system";
  }
}

export function applyTheme(theme) {
  const root = document.documentElement;
  if (theme === "light" || theme === "dark") root.dataset.theme = theme;
  else delete root.dataset.theme;
  try {
    if (theme === "system") localStorage.removeItem(STORAGE_KEY);
    else localStorage.setItem(STORAGE_KEY, theme);
  } catch {
    // Not remembered, but still applied.
  }
}

const select = document.getElementById("theme-select");
if (select) {
  select.value = remembered();
  select.addEventListener("change", () => applyTheme(select.value));
}
