// "How many more votes would separate two neighbours": one line per pair of neighbouring rows,
// from the API's votes_to_separate (an 80%-chance estimate from the current intervals; see the README).

/** Fill `list` (a <ul>) with a line per neighbouring pair; hide `box` when no pair has an estimate. */
export function renderSeparation(box, list, rows) {
  const lines = [];
  rows.forEach((row, index) => {
    const below = rows[index + 1];
    if (!below || row.ci_low === null || below.ci_low === null) return;
    if (row.provisional || below.provisional) return; // a provisional interval measures nothing yet
    const votes = row.votes_to_separate;
    let text;
    if (votes === 0) text = `${row.name} and ${below.name}: their intervals no longer overlap.`;
    else if (votes === null) text = `${row.name} and ${below.name}: rated alike; no number of votes is sure to separate them.`;
    else text = `${row.name} and ${below.name}: about ${votes} more vote${votes === 1 ? "" : "s"} between them for an 80% chance that their intervals separate (if the gap is what it looks like now).`;
    const item = document.createElement("li");
    item.textContent = text;
    item.dataset.votes = votes === null ? "" : String(votes);
    lines.push(item);
  });
  list.replaceChildren(...lines);
  box.hidden = lines.length === 0;
}
