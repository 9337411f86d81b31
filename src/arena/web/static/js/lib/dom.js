// Building DOM from data. Text always goes in through textContent, never as HTML.

/**
 * el("button", {class: "ghost", type: "button", onclick: fn, dataset: {key: "a"}}, "Copy")
 * Attributes whose value is false, null or undefined are left out; children may be strings.
 */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === "class") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on") && typeof value === "function") node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  append(node, children);
  return node;
}

export function append(node, children) {
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function clear(node) {
  node.replaceChildren();
  return node;
}

export const byId = (id) => document.getElementById(id);

/** Show a message in an alert paragraph (or hide it with an empty message). */
export function showError(node, message) {
  node.textContent = message || "";
  node.hidden = !message;
}

/** A decorative icon (see .icon-* in controls.css); the control around it carries the words. */
export function icon(name) {
  return el("span", { class: `icon icon-${name}`, "aria-hidden": "true" });
}
