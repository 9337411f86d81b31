// An incremental NDJSON decoder without I/O: feed bytes as they arrive, get whole objects back.

export class NdjsonDecoder {
  #utf8 = new TextDecoder();
  #pending = "";

  /** Objects completed by these bytes; a line split across chunks waits for its end. */
  feed(bytes) {
    this.#pending += this.#utf8.decode(bytes, { stream: true });
    const lines = this.#pending.split("\n");
    this.#pending = lines.pop();
    return lines.filter((line) => line.trim()).map((line) => JSON.parse(line));
  }

  /** Whatever is left when the stream ends (a last line without its newline). */
  flush() {
    const rest = (this.#pending + this.#utf8.decode()).trim();
    this.#pending = "";
    return rest ? [JSON.parse(rest)] : [];
  }
}
