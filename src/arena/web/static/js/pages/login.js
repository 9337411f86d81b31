// The login form: posts the credentials as JSON, then goes where the user was headed.

import { ApiError, request } from "../lib/api.js";

const form = document.getElementById("login-form");
const error = document.getElementById("login-error");

// Only a path on this server (the server checks it too).
function nextPath() {
  const next = form.dataset.next || "/";
  return next.startsWith("/") && !next.startsWith("//") ? next : "/";
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  error.hidden = true;
  const username = document.getElementById("login-username").value.trim();
  const password = document.getElementById("login-password").value;
  if (!username || !password) {
    error.textContent = "Enter your username and password.";
    error.hidden = false;
    return;
  }
  const button = form.querySelector("button[type=submit]");
  button.disabled = true;
  try {
    await request("POST", "/api/auth/login", { json: { username, password } });
    window.location.assign(nextPath());
  } catch (failure) {
    error.textContent = failure instanceof ApiError ? failure.message : "Logging in failed.";
    error.hidden = false;
  } finally {
    button.disabled = false;
  }
});
