// The header's "Log out" button (shown only with accounts): ends the session on the server.

import { logOut } from "./api.js";

const button = document.getElementById("logout-button");
if (button) {
  button.addEventListener("click", () => {
    button.disabled = true;
    logOut();
  });
}
