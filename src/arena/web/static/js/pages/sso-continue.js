// After a single sign-on: go on to where the user was headed, from this site's own page (so the
// browser sends the new SameSite=Strict session cookie). The link stays for a browser that waits.

const link = document.getElementById("sso-continue");
const next = link?.getAttribute("href") || "/";
// Only a path on this server (the server checked it too).
window.location.replace(next.startsWith("/") && !next.startsWith("//") ? next : "/");
