// The response cache's storage: an append-only log per model, in segments.
//
// Why a log: a grid run writes a quarter of a million entries. One file per entry, each written
// atomically with an fsync, made a fresh run from the cache slower than asking the servers; a
// log takes each batch of entries in one verified append and one fsync, and a later run reads a
// few large files instead of 250,000 small ones.
//
// Layout: `<dir>/log/<model>-<n>.jsonl`, where <model> is a short hash of what the backend is
// and <n> a segment number. Each line is `<checksum> <entry JSON>`; the checksum (the first 16
// hex digits of the entry's SHA-256) rejects a torn or damaged line, so a crash in the middle of
// an append never makes a wrong answer: the line is skipped and that request asks the model.
//
// Several processes: each writer appends only to a segment it holds the lock of (src/fsutil/
// lock.ts; a crashed holder's lock is stale at once), so no two processes ever append to one
// file. Readers read every segment of the model, ignore a last line still being written, and
// look for lines other processes added since (at most once a second, on a miss).
import { createHash } from "node:crypto";
import fs from "node:fs";
import { join } from "node:path";
import { appendVerified, ensureDir } from "../fsutil/write.js";
import { LockedError, lockFile, type Lock } from "../fsutil/lock.js";

const SEGMENTS = 64;
/** How long entries wait before they are appended (one append and one fsync for all of them). */
export const FLUSH_MS = 100;
/** Entries waiting beyond this size are appended at once. */
const FLUSH_BYTES = 4 << 20;
/** Misses look for other processes' new lines at most this often. */
const REFRESH_MS = 1_000;

export function lineChecksum(json: string): string {
  return createHash("sha256").update(json).digest("hex").slice(0, 16);
}

/** One log line (without its newline) for an entry's JSON. */
export function logLine(json: string): string {
  return `${lineChecksum(json)} ${json}`;
}

interface Segment {
  file: string;
  /** Bytes read so far (always at a line's end). */
  offset: number;
}

export interface LogStats {
  /** Lines that failed their checksum or could not be parsed (skipped, never served). */
  damaged: number;
  /** Entries appended. */
  appended: number;
  /** Entries whose append failed (a full disk): the log is cut back to before them. */
  unwritten: number;
}

export class CacheLog {
  private readonly index = new Map<string, string>();
  private readonly segments = new Map<string, Segment>();
  private loading: Promise<void> | undefined;
  private lastRefresh = 0;
  private own: { file: string; lock: Lock } | undefined;
  private pending: string[] = [];
  private pendingBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  readonly stats: LogStats = { damaged: 0, appended: 0, unwritten: 0 };

  constructor(
    readonly dir: string,
    /** The file name stem of this model's segments. */
    readonly stem: string,
  ) {}

  private get logDir(): string {
    return join(this.dir, "log");
  }

  /** The entry JSON stored for `key`, if any. */
  async get(key: string): Promise<string | undefined> {
    await (this.loading ??= this.refresh());
    const hit = this.index.get(key);
    if (hit !== undefined) return hit;
    if (Date.now() - this.lastRefresh < REFRESH_MS) return undefined;
    await this.refresh();
    return this.index.get(key);
  }

  /** Forget a stored entry that turned out unusable (it stays in the file, and is skipped). */
  drop(key: string): void {
    this.index.delete(key);
  }

  /** Keep an entry: at once for this process, on disk with the next flush. */
  put(key: string, json: string): void {
    this.index.set(key, json);
    const line = logLine(json) + "\n";
    this.pending.push(line);
    this.pendingBytes += line.length;
    if (this.pendingBytes >= FLUSH_BYTES) void this.flush();
    // Not unref'd: an exiting process still appends what it has.
    else this.timer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Append what is waiting (one verified append, one fsync). Failures are counted, not thrown. */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const lines = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    if (lines.length === 0) return this.flushing;
    this.flushing = this.flushing.then(() => this.append(lines));
    return this.flushing;
  }

  private async append(lines: string[]): Promise<void> {
    try {
      const file = await this.segmentToWrite();
      await appendVerified(file, lines.join(""), { separateTornLine: true, what: "response cache" });
      const handle = await fs.promises.open(file, "r");
      try {
        await handle.sync();
      } finally {
        await handle.close();
      }
      this.stats.appended += lines.length;
    } catch {
      // A cache that cannot be written must not fail the requests it was meant to speed up;
      // appendVerified has cut the file back, so nothing half-written stays.
      this.stats.unwritten += lines.length;
    }
  }

  /** The segment this process appends to: the first one no live process holds. */
  private async segmentToWrite(): Promise<string> {
    if (this.own) return this.own.file;
    await ensureDir(this.logDir, "response cache");
    for (let n = 0; n < SEGMENTS; n++) {
      const file = join(this.logDir, `${this.stem}-${n}.jsonl`);
      let lock: Lock;
      try {
        lock = lockFile(file, "response cache");
      } catch (err) {
        if (err instanceof LockedError) continue;
        throw err;
      }
      // Read what its previous writer left before appending after it.
      await this.readSegment(file);
      this.own = { file, lock };
      return file;
    }
    throw new Error(`every response cache segment of ${this.stem} is in use`);
  }

  /** Read every segment's lines added since the last look. */
  private async refresh(): Promise<void> {
    this.lastRefresh = Date.now();
    let names: string[];
    try {
      names = await fs.promises.readdir(this.logDir);
    } catch {
      return; // no log yet
    }
    const mine = names.filter((n) => n.startsWith(`${this.stem}-`) && n.endsWith(".jsonl")).sort();
    for (const name of mine) {
      const file = join(this.logDir, name);
      if (this.own?.file !== file) await this.readSegment(file);
    }
  }

  private async readSegment(file: string): Promise<void> {
    const seg = this.segments.get(file) ?? { file, offset: 0 };
    this.segments.set(file, seg);
    let buf: Buffer;
    try {
      const handle = await fs.promises.open(file, "r");
      try {
        const size = (await handle.stat()).size;
        if (size < seg.offset) seg.offset = 0; // replaced by hand: read it again
        if (size === seg.offset) return;
        buf = Buffer.alloc(size - seg.offset);
        const { bytesRead } = await handle.read(buf, 0, buf.length, seg.offset);
        buf = buf.subarray(0, bytesRead);
      } finally {
        await handle.close();
      }
    } catch {
      return; // unreadable now: a miss, and the model is asked
    }
    // Only whole lines: a last line without its newline may still be being written (or was torn
    // by a crash); it is read again next time, and skipped for good once a line follows it.
    const end = buf.lastIndexOf(0x0a);
    if (end < 0) return;
    let start = 0;
    while (start <= end) {
      const nl = buf.indexOf(0x0a, start);
      this.takeLine(buf.toString("utf8", start, nl));
      start = nl + 1;
    }
    seg.offset += end + 1;
  }

  private takeLine(line: string): void {
    if (line === "") return;
    const space = line.indexOf(" ");
    const json = line.slice(space + 1);
    if (space !== 16 || lineChecksum(json) !== line.slice(0, 16)) {
      this.stats.damaged++;
      return;
    }
    const key = keyOf(json);
    if (key === undefined) {
      this.stats.damaged++;
      return;
    }
    this.index.set(key, json);
  }

  /** Append what waits and let another process have this segment. */
  async close(): Promise<void> {
    await this.flush();
    this.own?.lock.release();
    this.own = undefined;
  }
}

/** The `key` field of an entry's JSON, without parsing all of it (entries are written key first). */
function keyOf(json: string): string | undefined {
  const m = /^\{"schema":\d+,"kind":"(?:stream|score|tokens|derived)","key":"([0-9a-f]{64})"/.exec(json);
  return m?.[1];
}

// One log per model and folder in a process, shared by every backend on it, so that one process
// never appends to a file from two places.
const logs = new Map<string, { log: CacheLog; users: number }>();

/**
 * Append what every open log of this process holds. A results record must not reach the disk
 * before the cache entries it was made from: after a kill, a run from the cache would ask again.
 */
export async function flushCacheLogs(): Promise<void> {
  await Promise.all([...logs.values()].map(({ log }) => log.flush()));
}

export function openCacheLog(dir: string, model: string): CacheLog {
  const stem = createHash("sha256").update(model).digest("hex").slice(0, 16);
  const id = `${dir}\u0000${stem}`;
  const found = logs.get(id);
  if (found) {
    found.users++;
    return found.log;
  }
  const log = new CacheLog(dir, stem);
  logs.set(id, { log, users: 1 });
  return log;
}

export async function closeCacheLog(log: CacheLog): Promise<void> {
  const id = `${log.dir}\u0000${log.stem}`;
  const found = logs.get(id);
  if (found && found.log === log && --found.users > 0) return log.flush();
  if (found?.log === log) logs.delete(id);
  await log.close();
}
