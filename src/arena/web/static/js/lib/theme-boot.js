// Runs before the first paint (a classic script in <head>): apply the remembered theme.
(function applyRememberedTheme() {
  try {
    var theme = localStorage.getItem("arena.theme");
    if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
  } catch (ignored) {
    // Storage can be blocked; the system theme applies then.
  }
})();
