// The audit page: pages of /api/audit newest first, filtered by action and actor, "Load more"
// for older ones, downloads of /api/audit/export and the result of /api/audit/verify.
// Everything is built with DOM calls (dom.js), never innerHTML: entries hold typed usernames.

import { request, setToken } from "../lib/api.js";
import { byId, el, showError } from "../lib/dom.js";
import { filenameFrom, saveBlob } from "../lib/download.js";

const PAGE_SIZE = 100;
const form = byId("audit-filters");
const body = document.querySelector("#audit-table tbody");
const more = byId("audit-more");
const empty = byId("audit-empty");
const summary = byId("audit-summary");
const errorBox = byId("audit-error");
const verifyBox = byId("audit-verify-result");

let nextBeforeId = null;
let shown = 0;

function filters() {
  const params = new URLSearchParams({ limit: String(PAGE_SIZE) });
  for (const name of ["action", "actor"]) {
    const value = form.elements[name].value.trim();
    if (value) params.set(name, value);
  }
  return params;
}

function row(entry) {
  const when = entry.created_at.replace("T", " ").replace(/\.\d+/, "").replace(/(Z|\+00:00)$/, "");
  const detail = Object.keys(entry.detail).length ? JSON.stringify(entry.detail) : "";
  return el(
    "tr",
    { dataset: { id: String(entry.id), action: entry.action } },
    el("td", { class: "number" }, String(entry.id)),
    el("td", { class: "when", title: entry.created_at }, when),
    el("td", { class: "actor" }, entry.actor),
    el("td", { class: "action" }, entry.action),
    el("td", { class: "target" }, entry.target ?? ""),
    el("td", { class: "ip" }, entry.ip ?? ""),
    el("td", { class: "detail" }, detail),
    el("td", { class: "hash", title: entry.hash }, entry.hash.slice(0, 12)),
  );
}

/** Load the first page (fresh) or the next older one. */
async function load({ fresh }) {
  const params = filters();
  if (!fresh && nextBeforeId !== null) params.set("before_id", String(nextBeforeId));
  try {
    const page = await (await request("GET", `/api/audit?${params}`)).json();
    showError(errorBox, "");
    if (fresh) {
      body.replaceChildren();
      shown = 0;
    }
    body.append(...page.entries.map(row));
    shown += page.entries.length;
    nextBeforeId = page.next_before_id;
    more.hidden = nextBeforeId === null;
    empty.hidden = shown > 0;
    summary.textContent = `${shown} entr${shown === 1 ? "y" : "ies"} shown${nextBeforeId === null ? "" : ", more below"}`;
  } catch (error) {
    showError(errorBox, error.message);
    summary.textContent = "";
  }
}

async function download(format) {
  try {
    // Fetched rather than linked, so a bearer token (token mode) goes with it.
    const response = await request("GET", `/api/audit/export?format=${format}`);
    const name = filenameFrom(response.headers.get("Content-Disposition"), `arena-audit.${format}`);
    saveBlob(await response.blob(), name);
    await load({ fresh: true }); // the export is itself an entry
  } catch (error) {
    showError(errorBox, error.message);
  }
}

async function verify() {
  try {
    const result = await (await request("GET", "/api/audit/verify")).json();
    verifyBox.textContent = result.message;
    verifyBox.dataset.ok = String(result.ok);
    verifyBox.hidden = false;
    showError(errorBox, "");
  } catch (error) {
    showError(errorBox, error.message);
  }
}

form.addEventListener("submit", (event) => {
  event.preventDefault();
  load({ fresh: true });
});
more.addEventListener("click", () => load({ fresh: false }));
byId("audit-export-jsonl").addEventListener("click", () => download("jsonl"));
byId("audit-export-csv").addEventListener("click", () => download("csv"));
byId("audit-verify").addEventListener("click", verify);
if (document.body.dataset.tokenRequired === "true") {
  byId("audit-token-field").hidden = false;
  byId("audit-token").addEventListener("change", (event) => {
    setToken(event.target.value.trim());
    load({ fresh: true });
  });
}
load({ fresh: true }).then(() => document.body.setAttribute("data-ready", "true"));
