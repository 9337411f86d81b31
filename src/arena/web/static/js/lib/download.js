// Saving what a fetch returned as a file. Downloads are fetched rather than linked, so the bearer
// token (token mode) goes with them; the Blob is then saved through a temporary link.

/** The name in a Content-Disposition header (plain or RFC 5987 `filename*=UTF-8''…`), else the fallback. */
export function filenameFrom(disposition, fallback) {
  const match = /filename\*?=(?:UTF-8'')?"?([^";]+)"?/i.exec(disposition || "");
  return match ? decodeURIComponent(match[1]) : fallback;
}

/** Save a Blob under a name, through a temporary link. */
export function saveBlob(blob, filename) {
  const url = URL.createObjectURL(blob);
  const link = document.createElement("a");
  link.href = url;
  link.download = filename;
  link.hidden = true;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}
