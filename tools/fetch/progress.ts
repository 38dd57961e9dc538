// A download progress bar on stderr. On a terminal it redraws one line in place (at most ~10 times a
// second); in a log (CI, a pipe) it prints a plain line every 25% of a large file so the log stays
// readable.
export interface Progress {
  start(total: number | null, from: number): void;
  update(done: number): void;
  finish(): void;
  note(message: string): void;
}

export function progressBar(label: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = Boolean(stream.isTTY);
  let total: number | null = null;
  let started = 0;
  let startedBytes = 0;
  let lastDraw = 0;
  let lastQuarter = -1;
  let done = 0;

  const line = () => {
    const seconds = Math.max((Date.now() - started) / 1000, 1e-3);
    const rate = `${mb((done - startedBytes) / seconds)}/s`;
    if (total === null) return `${label}  ${mb(done)}  ${rate}`;
    const fraction = total > 0 ? Math.min(done / total, 1) : 1;
    const width = 24;
    const filled = Math.round(fraction * width);
    const bar = `${"█".repeat(filled)}${"░".repeat(width - filled)}`;
    return `${label}  ${bar} ${(fraction * 100).toFixed(0).padStart(3)}%  ${mb(done)} / ${mb(total)}  ${rate}`;
  };

  return {
    start(size, from) {
      total = size;
      started = Date.now();
      startedBytes = done = from;
      if (from > 0) this.note(`resuming at ${mb(from)}`);
      this.update(from);
    },
    update(bytes) {
      done = bytes;
      if (tty) {
        const now = Date.now();
        if (now - lastDraw < 100 && bytes !== total) return;
        lastDraw = now;
        const columns = stream.columns || 100;
        stream.write(`\r${line().slice(0, columns - 1)}\x1b[K`);
        return;
      }
      // Small files (config.json) get no lines of their own in a log; the summary lists them.
      const quarter = total && total >= 1e6 ? Math.floor((4 * bytes) / total) : -1;
      if (quarter > lastQuarter) {
        lastQuarter = quarter;
        stream.write(`${line()}\n`);
      }
    },
    finish() {
      if (tty) stream.write(`\r${line()}\x1b[K\n`);
    },
    note(message) {
      stream.write(`${tty ? "\r\x1b[K" : ""}${label}: ${message}\n`);
    },
  };
}

function mb(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(0)} kB`;
}
