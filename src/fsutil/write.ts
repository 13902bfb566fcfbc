// The one write path for every file Concord writes. A replace either completes and is verified
// (every byte written, the size checked, fsync, rename) or the old file stays untouched; an
// append either lands whole or the file is cut back to where it was. Failures are one line
// naming the file and saying what is kept.
//
// `write(2)` may write fewer bytes than asked when a disk is nearly full; a writer that ignores
// the count renames a cut-off file over a good one. Every write here loops until all bytes are
// down, and a write that makes no progress is a full disk.
import fs from "node:fs";
import { randomBytes } from "node:crypto";
import { basename, dirname, join } from "node:path";
import { UserError } from "../errors.js";

/** A write that did not complete; `file` is the file the person knows (not a temporary). */
export class WriteError extends UserError {
  constructor(
    message: string,
    readonly file: string,
    readonly code: string | undefined,
  ) {
    super(message);
    this.name = "WriteError";
  }
}

/** What an errno means to the person, pointing at the folder when the folder is the trouble. */
export function describeFsError(err: unknown, file: string): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  const folder = dirname(file);
  switch (code) {
    case "ENOSPC":
      return "disk full (ENOSPC)";
    case "EDQUOT":
      return "disk quota exceeded (EDQUOT)";
    case "EACCES":
    case "EPERM":
      return `permission denied (${code}): the folder ${folder} or the file is not writable`;
    case "EROFS":
      return `read-only file system (EROFS) under ${folder}`;
    case "ENOENT":
      return `no such folder: ${folder} (ENOENT)`;
    case "ENOTDIR":
      return `${folder} is not a folder (ENOTDIR)`;
    case "EISDIR":
      return `${file} is a folder (EISDIR)`;
    case "EIO":
      return "input/output error (EIO)";
    default:
      return code ?? (err instanceof Error ? err.message.split("\n")[0] : String(err));
  }
}

/** A short write that made no progress: the disk is full even though write(2) said no error. */
function shortWrite(): NodeJS.ErrnoException {
  const e: NodeJS.ErrnoException = new Error("short write: no bytes written");
  e.code = "ENOSPC";
  return e;
}

// Temporaries are `.<name>.concord-<pid>-<8 hex>.tmp` beside their file: hidden, and
// distinctive enough that Concord only ever removes files it made itself.
const TEMP_NAME = /^\.(.+)\.concord-(\d+)-[0-9a-f]{8}\.tmp$/;

export function tempPathFor(file: string, pid = process.pid): string {
  return join(dirname(file), `.${basename(file)}.concord-${pid}-${randomBytes(4).toString("hex")}.tmp`);
}

/** The PID in a Concord temporary's name, or undefined when the name is not one. */
export function tempOwner(name: string): number | undefined {
  const m = TEMP_NAME.exec(name);
  return m ? Number(m[2]) : undefined;
}

export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/**
 * Remove the temporaries of saves that can no longer finish: their process is gone, or they are
 * older than `maxAgeMs` (a live save takes milliseconds). Nothing else in the folder is touched.
 */
export async function removeStaleTemps(dir: string, maxAgeMs = 3_600_000, now = Date.now()): Promise<number> {
  let removed = 0;
  const names = await fs.promises.readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const pid = tempOwner(name);
    if (pid === undefined) continue;
    const file = join(dir, name);
    const st = await fs.promises.lstat(file).catch(() => undefined);
    if (!st?.isFile()) continue;
    const orphaned = pid !== process.pid && !processAlive(pid);
    if (
      (orphaned || now - st.mtimeMs > maxAgeMs) &&
      (await fs.promises.unlink(file).then(
        () => true,
        () => false,
      ))
    )
      removed++;
  }
  return removed;
}

export interface WriteOptions {
  /** File mode for a new file (an existing file keeps its own). Default 0o644 (less the umask). */
  mode?: number;
  /** What the file is, for the message ("session", "settings"). */
  what?: string;
}

const toBuffer = (data: string | Uint8Array) =>
  typeof data === "string" ? Buffer.from(data, "utf8") : Buffer.from(data.buffer, data.byteOffset, data.byteLength);

function failure(file: string, err: unknown, kept: string, opts: WriteOptions): WriteError {
  if (err instanceof WriteError) return err;
  const what = opts.what ? `${opts.what} ` : "";
  return new WriteError(`cannot write ${what}${file}: ${describeFsError(err, file)}; ${kept}`, file, (err as NodeJS.ErrnoException)?.code);
}

function writeAllSync(fd: number, buf: Buffer, position: number | null): void {
  let off = 0;
  while (off < buf.length) {
    const n = fs.writeSync(fd, buf, off, buf.length - off, position === null ? null : position + off);
    if (n <= 0) throw shortWrite();
    off += n;
  }
}

function writeOnce(fd: number, buf: Buffer, off: number, position: number | null): Promise<number> {
  return new Promise((ok, fail) => fs.write(fd, buf, off, buf.length - off, position === null ? null : position + off, (err, n) => (err ? fail(err) : ok(n))));
}

async function writeAll(fd: number, buf: Buffer, position: number | null): Promise<void> {
  let off = 0;
  while (off < buf.length) {
    const n = await writeOnce(fd, buf, off, position);
    if (n <= 0) throw shortWrite();
    off += n;
  }
}

const p = <T>(f: (cb: (err: NodeJS.ErrnoException | null, v: T) => void) => void) => new Promise<T>((ok, fail) => f((err, v) => (err ? fail(err) : ok(v))));

async function existingMode(file: string): Promise<number | undefined> {
  return fs.promises.stat(file).then(
    (st) => st.mode & 0o7777,
    () => undefined,
  );
}

function fsyncDirSync(dir: string): void {
  // Makes the rename durable; some file systems refuse to fsync a folder, which costs nothing here.
  try {
    const fd = fs.openSync(dir, "r");
    try {
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  } catch {
    /* best effort */
  }
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const h = await fs.promises.open(dir, "r");
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    /* best effort */
  }
}

/** Replace `file` with `data`: temporary, every byte written, size checked, fsync, rename. */
export async function writeFileVerified(shown: string, data: string | Uint8Array, opts: WriteOptions = {}): Promise<void> {
  // A symlinked file (settings kept in a dotfiles folder) is replaced where it really lives.
  const file = await fs.promises.realpath(shown).catch(() => shown);
  const buf = toBuffer(data);
  const mode = (await existingMode(file)) ?? opts.mode ?? 0o644;
  const had = fs.existsSync(file);
  const kept = had ? "the previous version is kept" : "nothing was written";
  const temp = tempPathFor(file);
  let fd: number | undefined;
  try {
    fd = await p<number>((cb) => fs.open(temp, "wx", mode, cb));
    await writeAll(fd, buf, 0);
    await p<void>((cb) => fs.fsync(fd!, (e) => cb(e, undefined)));
    const st = await p<fs.Stats>((cb) => fs.fstat(fd!, cb));
    if (st.size !== buf.length) throw shortWrite();
    const closing = fd;
    fd = undefined;
    await p<void>((cb) => fs.close(closing, (e) => cb(e, undefined)));
    await fs.promises.rename(temp, file);
  } catch (err) {
    if (fd !== undefined) await p<void>((cb) => fs.close(fd!, () => cb(null, undefined)));
    await fs.promises.unlink(temp).catch(() => {});
    throw failure(shown, err, kept, opts);
  }
  await fsyncDir(dirname(file));
}

/** The same as writeFileVerified, for callers that must stay synchronous (conf's settings). */
export function writeFileVerifiedSync(shown: string, data: string | Uint8Array, opts: WriteOptions = {}): void {
  let file = shown;
  try {
    file = fs.realpathSync(shown);
  } catch {
    /* a new file */
  }
  const buf = toBuffer(data);
  let mode = opts.mode ?? 0o644;
  let had = false;
  try {
    mode = fs.statSync(file).mode & 0o7777;
    had = true;
  } catch {
    /* a new file */
  }
  const kept = had ? "the previous version is kept" : "nothing was written";
  const temp = tempPathFor(file);
  let fd: number | undefined;
  try {
    fd = fs.openSync(temp, "wx", mode);
    writeAllSync(fd, buf, 0);
    fs.fsyncSync(fd);
    if (fs.fstatSync(fd).size !== buf.length) throw shortWrite();
    const closing = fd;
    fd = undefined;
    fs.closeSync(closing);
    fs.renameSync(temp, file);
  } catch (err) {
    if (fd !== undefined) {
      try {
        fs.closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    try {
      fs.unlinkSync(temp);
    } catch {
      /* not created */
    }
    throw failure(shown, err, kept, opts);
  }
  fsyncDirSync(dirname(file));
}

export interface AppendOptions extends WriteOptions {
  /** When the file ends without a newline (a torn line), start with one so that line stays alone. */
  separateTornLine?: boolean;
  /** How to describe what stays after a failure (default: "everything before it is kept"). */
  kept?: string;
  /** fsync before returning: another file is about to point at these bytes. */
  sync?: boolean;
}

/**
 * Append `text` whole or not at all: if any byte cannot be written, the file is cut back to
 * its size before the append, so what was there stays and no partial line is left.
 */
export async function appendVerified(file: string, text: string, opts: AppendOptions = {}): Promise<void> {
  await appendVerifiedAt(file, text, opts);
}

/** appendVerified, telling where the appended text starts (another file will point at it). */
export async function appendVerifiedAt(file: string, text: string, opts: AppendOptions = {}): Promise<number> {
  const kept = opts.kept ?? "everything written before is kept";
  let handle: fs.promises.FileHandle | undefined;
  let before = -1;
  try {
    handle = await fs.promises.open(file, "a+", opts.mode ?? 0o644);
    before = (await handle.stat()).size;
    let prefix = "";
    if (opts.separateTornLine && before > 0) {
      const last = Buffer.alloc(1);
      await handle.read(last, 0, 1, before - 1);
      if (last[0] !== 0x0a) prefix = "\n";
    }
    const buf = toBuffer(prefix + text);
    await writeAll(handle.fd, buf, null);
    if (opts.sync) await handle.sync();
    if ((await handle.stat()).size !== before + buf.length) throw shortWrite();
    return before + Buffer.byteLength(prefix);
  } catch (err) {
    if (handle && before >= 0) await handle.truncate(before).catch(() => {});
    throw failure(file, err, kept, opts);
  } finally {
    await handle?.close().catch(() => {});
  }
}

/**
 * Why creating `dir` failed, said of the folder at fault. A recursive mkdir under a read-only
 * mount reports ENOENT ("no such file or directory") although the parent is there: the nearest
 * existing parent is asked whether it can be written, and its answer is the reason.
 */
export function mkdirFailure(err: unknown, dir: string): { code: string | undefined; reason: string } {
  let code = (err as NodeJS.ErrnoException)?.code;
  let at = dir;
  if (code === "ENOENT" || code === "EACCES" || code === "EPERM" || code === "EROFS") {
    let parent = dirname(dir);
    while (parent !== dirname(parent) && !fs.existsSync(parent)) parent = dirname(parent);
    at = parent;
    try {
      fs.accessSync(parent, fs.constants.W_OK);
    } catch (e) {
      code = (e as NodeJS.ErrnoException).code ?? code;
    }
  }
  switch (code) {
    case "EACCES":
    case "EPERM":
      return { code, reason: `permission denied (${code}): the folder ${at} is not writable` };
    case "EROFS":
      return { code, reason: `read-only file system (EROFS) under ${at}` };
    default:
      return { code, reason: describeFsError(err, join(dir, "x")) };
  }
}

/** Create a folder (and its parents), with the same one-line failure. */
export async function ensureDir(dir: string, what?: string): Promise<void> {
  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (err) {
    const { code, reason } = mkdirFailure(err, dir);
    throw new WriteError(`cannot create ${what ? `${what} ` : ""}folder ${dir}: ${reason}`, dir, code);
  }
}
