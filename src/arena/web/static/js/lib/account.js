// The header's "Log out" button (shown only with accounts): ends the session on the server.

import { request } from "./api.js";

const button = document.getElementById("logout-button");
if (button) {
  button.addEventListener("click", async () => {
    button.disabled = true;
    try {
      await request("POST", "/api/auth/logout");
    } finally {
      window.location.assign("/login");
    }
  });
}
