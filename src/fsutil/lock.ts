// One writer per file or folder. A lock is a small file (`<file>.lock`, or `concord.lock` in a
// results folder) holding the holder's PID, host and start time, so a refusal can name who has
// it. It is created whole (written to a temporary, then hard-linked into place, which fails if
// a lock is there), and a holder that crashed never blocks anyone: on the same host a lock
// whose PID is gone is stale at once, and any lock whose holder stopped touching it (every
// 15 s) for two minutes is stale.
//
// Why not proper-lockfile: its lock is a bare folder judged only by age, so it cannot say who
// holds it, and after a crash the next writer is refused until the age runs out.
import fs from "node:fs";
import { hostname } from "node:os";
import { basename, dirname, join } from "node:path";
import { UserError } from "../errors.js";
import { mkdirFailure, processAlive, tempPathFor } from "./write.js";

export interface LockHolder {
  pid: number;
  host: string;
  startedAt: string;
  /** What holds it ("concord run", "the interface"). */
  what: string;
}

export class LockedError extends UserError {
  constructor(
    message: string,
    readonly file: string,
    readonly holder: LockHolder | undefined,
  ) {
    super(message);
    this.name = "LockedError";
  }
}

export const HEARTBEAT_MS = 15_000;
export const STALE_MS = 120_000;

export interface Lock {
  readonly file: string;
  readonly holder: LockHolder;
  release(): void;
}

// Locks this process holds, by lock file: a second acquire from the same process shares it.
const held = new Map<string, { lock: Lock; count: number; timer: NodeJS.Timeout }>();

function readHolder(file: string): { holder?: LockHolder; text?: string; mtimeMs?: number } {
  let text: string;
  let mtimeMs: number;
  try {
    text = fs.readFileSync(file, "utf8");
    mtimeMs = fs.statSync(file).mtimeMs;
  } catch {
    return {};
  }
  try {
    const v = JSON.parse(text) as LockHolder;
    if (Number.isInteger(v.pid) && typeof v.host === "string") return { holder: v, text, mtimeMs };
  } catch {
    /* unreadable: judged by age */
  }
  return { text, mtimeMs };
}

function isStale(h: { holder?: LockHolder; mtimeMs?: number }, now: number): boolean {
  if (h.mtimeMs === undefined) return false;
  if (now - h.mtimeMs > STALE_MS) return true;
  if (!h.holder) return now - h.mtimeMs > 10_000; // a lock file that never got its content
  return h.holder.host === hostname() && !processAlive(h.holder.pid);
}

/** "pid 4242 on host-a (concord run, since 2026-12-06 02:50:01 UTC)" */
export function describeHolder(h: LockHolder): string {
  const since = h.startedAt
    .replace("T", " ")
    .replace(/\.\d+Z$/, " UTC")
    .replace(/Z$/, " UTC");
  return `pid ${h.pid} on ${h.host} (${h.what}, since ${since})`;
}

/** Remove a stale lock only if it is still the one judged stale (another process may have taken it). */
function removeStale(file: string, staleText: string | undefined): void {
  const aside = `${tempPathFor(file)}.stale`;
  try {
    fs.renameSync(file, aside);
  } catch {
    return;
  }
  const moved = (() => {
    try {
      return fs.readFileSync(aside, "utf8");
    } catch {
      return undefined;
    }
  })();
  if (moved !== staleText) {
    // A fresh lock was moved: put it back (link fails if yet another lock is there).
    try {
      fs.linkSync(aside, file);
    } catch {
      /* that holder will find its lock gone at its next touch */
    }
  }
  try {
    fs.unlinkSync(aside);
  } catch {
    /* gone */
  }
}

/**
 * Take the lock `lockFile` for `target` (the file or folder named in messages), or throw a
 * LockedError naming the holder. A stale lock is taken over.
 */
export function acquireLock(lockFile: string, target: string, what: string): Lock {
  const mine = held.get(lockFile);
  if (mine) {
    mine.count++;
    return mine.lock;
  }
  const holder: LockHolder = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), what };
  const text = JSON.stringify(holder) + "\n";
  try {
    fs.mkdirSync(dirname(lockFile), { recursive: true });
  } catch (err) {
    throw new UserError(`cannot create the folder ${dirname(lockFile)}: ${mkdirFailure(err, dirname(lockFile)).reason}`);
  }
  for (let attempt = 0; attempt < 5; attempt++) {
    const temp = tempPathFor(lockFile);
    try {
      fs.writeFileSync(temp, text, { flag: "wx", mode: 0o644 });
      try {
        fs.linkSync(temp, lockFile);
        break;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      }
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw new UserError(
        `cannot lock ${target}: ${code === "EACCES" || code === "EPERM" ? `permission denied (${code}) in ${dirname(lockFile)}` : (code ?? String(err))}`,
      );
    } finally {
      try {
        fs.unlinkSync(temp);
      } catch {
        /* linked or never made */
      }
    }
    const other = readHolder(lockFile);
    if (other.text === undefined) continue; // released meanwhile: try again
    if (isStale(other, Date.now())) {
      removeStale(lockFile, other.text);
      continue;
    }
    const who = other.holder ? describeHolder(other.holder) : "another process";
    throw new LockedError(`${target} is in use by ${who}; refusing a second writer (lock ${basename(lockFile)})`, target, other.holder);
  }
  if (readHolder(lockFile).text !== text) throw new LockedError(`${target}: could not take the lock ${lockFile}`, target, undefined);

  const timer = setInterval(() => {
    const now = new Date();
    try {
      fs.utimesSync(lockFile, now, now);
    } catch {
      /* removed by hand: nothing to touch */
    }
  }, HEARTBEAT_MS);
  timer.unref();
  const lock: Lock = {
    file: lockFile,
    holder,
    release() {
      const entry = held.get(lockFile);
      if (!entry || --entry.count > 0) return;
      clearInterval(entry.timer);
      held.delete(lockFile);
      // Only our own lock is removed.
      if (readHolder(lockFile).text === text) {
        try {
          fs.unlinkSync(lockFile);
        } catch {
          /* gone */
        }
      }
    },
  };
  held.set(lockFile, { lock, count: 1, timer });
  return lock;
}

/** Release every lock this process holds (on exit; a crash is covered by stale detection). */
export function releaseAllLocks(): void {
  for (const { lock } of [...held.values()]) {
    const entry = held.get(lock.file);
    if (entry) entry.count = 1;
    lock.release();
  }
}
process.on("exit", releaseAllLocks);

/** The lock of a session file: `<file>.lock` beside it. */
export function lockFile(file: string, what: string): Lock {
  return acquireLock(`${file}.lock`, file, what);
}

/** The lock of a results folder: `<dir>/concord.lock`. */
export function lockFolder(dir: string, what: string): Lock {
  return acquireLock(join(dir, "concord.lock"), dir, what);
}
