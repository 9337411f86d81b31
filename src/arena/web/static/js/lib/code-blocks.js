// A header on every code block of rendered Markdown: the fence's language and a Copy button.
//
// The server renders and sanitises answers (web/markdown.py): a code block arrives as
// <div class="highlight" data-lang="python"><pre><code>…; the sanitiser lets no button through,
// so the header is built here, from DOM calls, whenever such a block appears under `root`.
// Our own elements carry data-chrome, which the sanitiser never lets an answer carry.

import { el } from "./dom.js";

const FEEDBACK_MS = 2000;
const enhanced = new WeakSet(); // not an attribute: an answer's markup stays as the server sent it

/** Watch `root` (the transcript) and give each code block that appears in it a header. */
export function watchCodeBlocks(root) {
  const enhanceAll = () => root.querySelectorAll("div.highlight").forEach(enhance);
  new MutationObserver(enhanceAll).observe(root, { childList: true, subtree: true });
  enhanceAll();
}

function enhance(block) {
  if (enhanced.has(block)) return;
  enhanced.add(block);
  const code = block.querySelector("pre > code");
  if (!code) return;
  const language = block.dataset.lang || "";
  const status = el("span", { class: "visually-hidden", role: "status" });
  const button = el("button", { type: "button", class: "code-copy small ghost", "aria-label": language ? `Copy the ${language} code` : "Copy the code" }, "Copy");
  button.addEventListener("click", () => copy(code, button, status));
  const head = el(
    "div",
    { class: "code-head", dataset: { chrome: "" } },
    el("span", { class: "code-lang" }, language),
    button,
    status,
  );
  block.prepend(head);
}

async function copy(code, button, status) {
  const text = code.textContent.replace(/\n$/, ""); // the fence's closing newline is not code
  const copied = (await viaClipboard(text)) || viaSelection(code);
  const message = copied ? "Copied" : "Selected: press Ctrl+C";
  button.textContent = copied ? "Copied ✓" : "Press Ctrl+C";
  button.dataset.state = copied ? "copied" : "selected";
  status.textContent = message;
  clearTimeout(button.resetTimer);
  button.resetTimer = setTimeout(() => {
    button.textContent = "Copy";
    delete button.dataset.state;
    status.textContent = "";
  }, FEEDBACK_MS);
}

async function viaClipboard(text) {
  try {
    await navigator.clipboard.writeText(text); // needs a secure context (localhost counts) and permission
    return true;
  } catch {
    return false;
  }
}

/** The fallback: select the code and ask the browser to copy the selection; if it will not,
 *  the code stays selected for the person to copy by hand. */
function viaSelection(code) {
  const range = document.createRange();
  range.selectNodeContents(code);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
  let copied = false;
  try {
    copied = document.execCommand("copy");
  } catch {
    copied = false;
  }
  if (copied) selection.removeAllRanges();
  return copied;
}
