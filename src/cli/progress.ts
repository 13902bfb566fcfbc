// Download progress on stderr: one redrawn bar on a terminal, a few plain lines otherwise (logs
// and CI keep a record without thousands of lines).
import type { DownloadProgress } from "../backends/download.js";

export interface DownloadReporter {
  onProgress(p: DownloadProgress): void;
  /** The download finished (ok) or failed: end the bar's line. Prints nothing when nothing was downloaded. */
  end(ok: boolean): void;
}

export interface ReporterOptions {
  /** Default: process.stderr. */
  stream?: NodeJS.WritableStream & { isTTY?: boolean; columns?: number };
  /** Clock in milliseconds (tests). */
  now?: () => number;
  /** Shortest time between two redraws of the bar. */
  redrawMs?: number;
}

const MB = 1024 ** 2;

function formatSize(n: number): string {
  if (n >= 1024 ** 3) return `${(n / 1024 ** 3).toFixed(2)} GB`;
  if (n >= MB) return `${(n / MB).toFixed(1)} MB`;
  return `${Math.round(n / 1024)} KB`;
}

/** File names come from URLs and servers: no control characters reach the terminal. */
function clean(s: string): string {
  return s.replace(/[\u0000-\u001f\u007f-\u009f]+/g, "?").slice(0, 80);
}

export function downloadReporter(opts: ReporterOptions = {}): DownloadReporter {
  const stream = opts.stream ?? process.stderr;
  const tty = !!stream.isTTY;
  const now = opts.now ?? (() => performance.now());
  const redrawMs = opts.redrawMs ?? 100;
  let started: number | undefined;
  let lastDraw = -Infinity;
  let last: DownloadProgress | undefined;
  // Plain mode: the quarter (or, with no length known, the 100 MB step) last reported.
  let lastStep = -1;

  const rate = (p: DownloadProgress) => {
    const s = (now() - (started ?? now())) / 1000;
    return s > 0.2 ? `${formatSize(p.downloadedBytes / s)}/s` : "";
  };

  const bar = (p: DownloadProgress) => {
    const name = clean(p.file);
    if (!p.totalBytes) return `downloading ${name} ${formatSize(p.downloadedBytes)} ${rate(p)}`.trimEnd();
    const frac = Math.min(1, p.downloadedBytes / p.totalBytes);
    const width = 24;
    const filled = Math.round(frac * width);
    return `downloading ${name} [${"#".repeat(filled)}${".".repeat(width - filled)}] ${String(Math.floor(frac * 100)).padStart(3)}% ${formatSize(p.downloadedBytes)} of ${formatSize(p.totalBytes)} ${rate(p)}`.trimEnd();
  };

  const draw = (p: DownloadProgress) => {
    const cols = stream.columns ?? 80;
    stream.write(`\r\x1b[2K${bar(p).slice(0, Math.max(10, cols - 1))}`);
    lastDraw = now();
  };

  return {
    onProgress(p) {
      const first = started === undefined;
      if (first) started = now();
      last = p;
      if (tty) {
        const complete = p.totalBytes !== undefined && p.downloadedBytes >= p.totalBytes;
        if (first || complete || now() - lastDraw >= redrawMs) draw(p);
        return;
      }
      if (first) stream.write(`downloading ${clean(p.file)}${p.totalBytes ? ` (${formatSize(p.totalBytes)})` : ""}\n`);
      const step = p.totalBytes ? Math.floor((p.downloadedBytes / p.totalBytes) * 4) : Math.floor(p.downloadedBytes / (100 * MB));
      if (step > lastStep) {
        if (!first && step > 0 && (!p.totalBytes || step < 4)) {
          stream.write(`  ${p.totalBytes ? `${step * 25}%, ` : ""}${formatSize(p.downloadedBytes)}\n`);
        }
        lastStep = step;
      }
    },
    end(ok) {
      if (!last) return;
      const p = last;
      last = undefined;
      if (tty) {
        // Done: the bar gives way to one summary line; failed: it stays, showing where it stopped.
        if (ok) stream.write("\r\x1b[2K");
        else {
          draw(p);
          stream.write("\n");
        }
      }
      if (ok) stream.write(`downloaded ${clean(p.file)} (${formatSize(p.downloadedBytes)})\n`);
      started = undefined;
      lastStep = -1;
    },
  };
}
