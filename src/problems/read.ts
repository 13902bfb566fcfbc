// Streaming readers shared by the problem-set loaders: strict UTF-8, lines, CSV records.
import { createReadStream } from "node:fs";
import { open, stat } from "node:fs/promises";
import { basename } from "node:path";
import { Readable } from "node:stream";
import { CsvError, parse } from "csv-parse";
import { parse as parseSync } from "csv-parse/sync";
import { UserError } from "../errors.js";

/** Where in a file a problem was found. Row: 1-based data row (CSV, header excluded); line: 1-based line. */
export interface RowPlace {
  row?: number;
  line?: number;
}

/** One bad row (or a problem part-way through a file). Its message is one line naming file, row and field. */
export class RowError extends Error {
  readonly file: string;
  readonly row?: number;
  readonly line?: number;
  readonly field?: string;
  /** What is wrong, without the place. */
  readonly problem: string;
  constructor(file: string, place: RowPlace, problem: string, field?: string) {
    const where = [basename(file)];
    if (place.row !== undefined) where.push(`row ${place.row}${place.line !== undefined ? ` (line ${place.line})` : ""}`);
    else if (place.line !== undefined) where.push(`line ${place.line}`);
    super(`${where.join(" ")}: ${field !== undefined ? `field "${field}" ` : ""}${problem}`.replace(/[\u0000-\u001f\u007f-\u009f]+/g, " "));
    this.name = "RowError";
    this.file = file;
    this.row = place.row;
    this.line = place.line;
    this.field = field;
    this.problem = problem;
  }
}

export type Report = (err: RowError) => void;

function countNewlines(text: string): number {
  let n = 0;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) n++;
  return n;
}

/** A user-facing error for a file that cannot be opened at all. */
export function fileError(path: string, err: unknown): UserError {
  const code = (err as { code?: string }).code;
  const name = basename(path);
  if (code === "ENOENT") return new UserError(`${path}: no such file or folder`);
  if (code === "EACCES" || code === "EPERM") return new UserError(`${path}: permission denied`);
  if (code === "EISDIR") return new UserError(`${path}: is a folder, expected a file`);
  return new UserError(`${name}: cannot read (${(err as Error).message ?? String(err)})`);
}

/**
 * The file's text in chunks, decoded as strict UTF-8 (a BOM is dropped). Invalid bytes raise a
 * RowError naming the line, since silently replaced characters would corrupt answers.
 */
export async function* readUtf8(path: string): AsyncGenerator<string> {
  const decoder = new TextDecoder("utf-8", { fatal: true });
  let line = 1;
  const stream = createReadStream(path, { highWaterMark: 64 * 1024 });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      let text: string;
      try {
        text = decoder.decode(chunk, { stream: true });
      } catch {
        const loose = new TextDecoder("utf-8").decode(chunk);
        const bad = loose.indexOf("\uFFFD");
        throw new RowError(path, { line: line + countNewlines(loose.slice(0, Math.max(0, bad))) }, "text is not valid UTF-8 (save the file as UTF-8)");
      }
      line += countNewlines(text);
      yield text;
    }
    try {
      const tail = decoder.decode();
      if (tail) yield tail;
    } catch {
      throw new RowError(path, { line }, "file ends inside a UTF-8 character (truncated or not UTF-8)");
    }
  } catch (err) {
    if (err instanceof RowError) throw err;
    throw fileError(path, err);
  } finally {
    stream.destroy();
  }
}

/**
 * The start of a file as text (for recognising its format): at most `bytes`, cut at a whole
 * character. Invalid UTF-8 in the first line is an error; later invalid bytes show as U+FFFD.
 */
export async function peekText(path: string, bytes = 64 * 1024): Promise<{ text: string; size: number }> {
  let size: number;
  try {
    const st = await stat(path);
    if (st.isDirectory()) throw Object.assign(new Error("is a folder"), { code: "EISDIR" });
    size = st.size;
  } catch (err) {
    throw fileError(path, err);
  }
  const handle = await open(path, "r").catch((err) => {
    throw fileError(path, err);
  });
  try {
    const buf = Buffer.alloc(Math.min(bytes, size));
    const { bytesRead } = await handle.read(buf, 0, buf.length, 0);
    let end = bytesRead;
    // Do not split a multi-byte character at the cut.
    if (bytesRead < size) while (end > 0 && (buf[end - 1] & 0xc0) === 0x80) end--;
    if (bytesRead < size && end > 0 && buf[end - 1] >= 0xc0) end--;
    try {
      const text = new TextDecoder("utf-8", { fatal: true }).decode(buf.subarray(0, end));
      return { text, size };
    } catch {
      // Bad bytes after the first line are left for the loader, which names their line.
      const text = new TextDecoder("utf-8").decode(buf.subarray(0, end));
      const nl = text.indexOf("\n");
      if (text.slice(0, nl < 0 ? text.length : nl).includes("\uFFFD")) {
        throw new UserError(`${basename(path)}: text is not valid UTF-8 (save the file as UTF-8)`);
      }
      return { text, size };
    }
  } finally {
    await handle.close();
  }
}

/** Non-empty lines of a text file, with 1-based line numbers, streamed. Invalid UTF-8 is reported and ends the file. */
export async function* readLines(path: string, report: Report): AsyncGenerator<{ line: number; text: string }> {
  // Pieces of the line being read: each chunk is searched once, so a 100 MB line costs one pass.
  let parts: string[] = [];
  let line = 0;
  try {
    for await (const chunk of readUtf8(path)) {
      let start = 0;
      let nl: number;
      while ((nl = chunk.indexOf("\n", start)) >= 0) {
        parts.push(chunk.slice(start, nl));
        const text = (parts.length === 1 ? parts[0] : parts.join("")).replace(/\r$/, "");
        parts = [];
        start = nl + 1;
        line++;
        if (text.trim() !== "") yield { line, text };
      }
      if (start < chunk.length) parts.push(chunk.slice(start));
    }
  } catch (err) {
    // A bad encoding part-way stops the file; what was read before it stays loaded.
    if (!(err instanceof RowError)) throw err;
    if (line === 0) throw new UserError(err.message);
    return report(err);
  }
  const rest = parts.join("");
  if (rest.trim() !== "") yield { line: line + 1, text: rest.replace(/\r$/, "") };
}

export interface CsvRecord {
  /** 1-based record number; the header is record 1, so data row N is record N + 1. */
  record: number;
  /** 1-based line where the record starts. */
  line: number;
  fields: string[];
}

function csvProblem(err: CsvError): string {
  const msg = err.message.replace(/^[A-Za-z ]+:\s*/, "");
  switch (err.code) {
    case "CSV_QUOTE_NOT_CLOSED":
      return 'a quoted field is never closed (unbalanced " quote)';
    case "CSV_INVALID_CLOSING_QUOTE":
      return `a quoted field has text after its closing quote (${msg})`;
    case "INVALID_OPENING_QUOTE":
      return `a quote appears inside an unquoted field (${msg}); quote the whole field and double inner quotes`;
    default:
      return msg;
  }
}

/**
 * CSV records, streamed through csv-parse. A malformed record (quoting) is reported and
 * skipped; the rest still load. Column counts are left to the caller to check.
 */
/** What a strict CSV parser says is wrong with one record's text, or undefined when nothing is. */
function strictCsvProblem(recordText: string): string | undefined {
  try {
    parseSync(recordText, { relax_column_count: true });
    return undefined;
  } catch (err) {
    return err instanceof CsvError ? csvProblem(err) : String((err as Error).message ?? err);
  }
}

export async function* readCsv(path: string, report: Report): AsyncGenerator<CsvRecord> {
  const skipped: Array<{ line?: number; problem: string }> = [];
  const parser = parse({
    relax_column_count: true,
    // A stray quote must not swallow the rows after it: accept it here, then re-check the one
    // record strictly below so it is still reported as a bad row.
    relax_quotes: true,
    skip_records_with_error: true,
    skip_empty_lines: true,
    info: true,
    raw: true,
    on_skip: (err) => {
      if (err) skipped.push({ line: Number(err.lines) || undefined, problem: csvProblem(err) });
      return undefined;
    },
  });
  const source = Readable.from(readUtf8(path));
  source.on("error", (err) => parser.destroy(err));
  source.pipe(parser);
  // Records so far, skipped ones included, so row numbers match the file.
  let record = 0;
  const flushSkipped = (before: number): void => {
    while (skipped.length && (skipped[0].line ?? 0) < before) {
      const s = skipped.shift()!;
      record++;
      report(new RowError(path, record > 1 ? { row: record - 1, line: s.line } : { line: s.line }, s.problem));
    }
  };
  try {
    for await (const out of parser as AsyncIterable<{ info: { lines: number }; raw: string; record: string[] }>) {
      const inner = out.raw.replace(/(?:\r\n|\n|\r)$/, "");
      const startLine = out.info.lines - countNewlines(inner);
      // The parser runs ahead of this loop: report only the skips that come before this record.
      flushSkipped(startLine);
      record++;
      if (inner.includes('"')) {
        const strict = strictCsvProblem(inner);
        if (strict) {
          report(new RowError(path, record > 1 ? { row: record - 1, line: startLine } : { line: startLine }, strict));
          continue;
        }
      }
      yield { record, line: startLine, fields: out.record };
    }
  } catch (err) {
    flushSkipped(Infinity);
    if (err instanceof UserError) throw err;
    const rowError = err instanceof RowError ? err : new RowError(path, {}, (err as Error).message ?? String(err));
    // Nothing read yet: the whole file is unusable.
    if (record === 0) throw new UserError(rowError.message);
    report(rowError);
  } finally {
    source.destroy();
  }
  flushSkipped(Infinity);
}
