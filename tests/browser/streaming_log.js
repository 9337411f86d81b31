// Installed before the page's own scripts (Playwright init script): records, per card, each status
// it passes through and the answer's length at every change while it streams.
window.__cardLog = {};
new MutationObserver((records) => {
  for (const record of records) {
    const node = record.target.nodeType === Node.ELEMENT_NODE ? record.target : record.target.parentElement;
    const card = node && node.closest && node.closest(".card");
    if (!card || !card.isConnected) continue;
    const id = `${card.dataset.turnId}/${card.dataset.key}`;
    const log = (window.__cardLog[id] ||= { statuses: [], streamedLengths: [] });
    const status = card.dataset.status;
    if (log.statuses[log.statuses.length - 1] !== status) log.statuses.push(status);
    if (status === "streaming") log.streamedLengths.push(card.querySelector(".answer").textContent.length);
  }
}).observe(document, { subtree: true, childList: true, characterData: true, attributes: true, attributeFilter: ["data-status"] });
