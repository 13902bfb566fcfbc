// `concord replay <file>`: a saved session or a recording of model exchanges, told apart by
// the file's first line (a recording starts with its {"kind":"concord-recording"} header).
import { open } from "node:fs/promises";
import { UserError } from "../errors.js";

export type ReplayKind = "session" | "recording";

const HEAD_BYTES = 64 * 1024;

export async function replayKind(file: string): Promise<ReplayKind> {
  let head: string;
  try {
    const fh = await open(file, "r");
    try {
      const buf = Buffer.alloc(HEAD_BYTES);
      const { bytesRead } = await fh.read(buf, 0, HEAD_BYTES, 0);
      head = buf.subarray(0, bytesRead).toString("utf8");
    } finally {
      await fh.close();
    }
  } catch (err) {
    const code = (err as { code?: string }).code;
    throw new UserError(`${file}: cannot read it (${code === "ENOENT" ? "no such file" : (code ?? "read error")})`);
  }
  // A recording's header is one short line; a session is one JSON document (often one long line).
  const nl = head.indexOf("\n");
  if (nl < 0) return "session";
  try {
    const header = JSON.parse(head.slice(0, nl)) as { kind?: unknown };
    return header && typeof header === "object" && header.kind === "concord-recording" ? "recording" : "session";
  } catch {
    return "session";
  }
}
