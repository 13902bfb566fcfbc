// A terminal for the real Ink renderer inside the benchmark process: an output stream that
// says it is a TTY of a fixed size and timestamps every write, and an input stream that
// delivers keys the way a raw-mode stdin does. Ink renders to it exactly as to a terminal
// (throttled, log-update), unlike ink-testing-library's debug mode that renders every update.
import { EventEmitter } from "node:events";
import stripAnsi from "strip-ansi";

export interface Write {
  at: number;
  data: string;
}

export class BenchStdout extends EventEmitter {
  readonly isTTY = true;
  writes: Write[] = [];
  onWrite?: (w: Write) => void;
  constructor(
    readonly columns: number,
    readonly rows: number,
  ) {
    super();
  }
  write = (data: string | Uint8Array): boolean => {
    const w = { at: performance.now(), data: typeof data === "string" ? data : Buffer.from(data).toString("utf8") };
    this.writes.push(w);
    this.onWrite?.(w);
    return true;
  };
  /** Writes that put visible text on the screen (Ink also writes bare cursor codes). */
  frames(): Write[] {
    return this.writes.filter((w) => isFrame(w.data));
  }
}

export function isFrame(data: string): boolean {
  return stripAnsi(data).trim().length > 0;
}

/** Erase-everything sequences: a frame that starts with one makes the screen flash. */
export function clearsScreen(data: string): boolean {
  return data.includes("\u001b[2J") || data.includes("\u001bc");
}

export class BenchStdin extends EventEmitter {
  readonly isTTY = true;
  private data: string | null = null;
  /** Deliver one key (or escape sequence) as a terminal in raw mode would. */
  press(key: string): void {
    this.data = key;
    this.emit("readable");
    this.emit("data", key);
  }
  read = (): string | null => {
    const d = this.data;
    this.data = null;
    return d;
  };
  setEncoding(): void {}
  setRawMode(): void {}
  resume(): void {}
  pause(): void {}
  ref(): void {}
  unref(): void {}
}
