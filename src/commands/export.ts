// `concord export <session.json> [--format text|markdown] [--out file]`: a saved session as the
// plain chain text (to reuse as a transfer CoT) or as a Markdown report.
import { Option, type Command } from "commander";
import { dirname } from "node:path";
import stripAnsi from "strip-ansi";
import { ensureDir, writeFileVerified } from "../fsutil/write.js";
import { exportChainText, exportSessionMarkdown, loadSession } from "../state/sessions.js";
import { renderSessionHtml } from "../report-html/index.js";
import { writeHtmlFile } from "./report-html.js";

export type ExportFormat = "text" | "markdown";

export interface ExportOptions {
  format?: ExportFormat;
  out?: string;
  /** Also (or only) write the session as a self-contained HTML page. */
  html?: string;
}

/** Render a session file; writes to `opts.out` or to `stdout`. Bad files throw one line naming file and place. */
export async function exportCommand(file: string, opts: ExportOptions = {}, stdout: NodeJS.WritableStream = process.stdout): Promise<string> {
  const session = await loadSession(file);
  if (opts.html) {
    await writeHtmlFile(opts.html, await renderSessionHtml(session));
    // The page is the whole export unless a text or Markdown file was asked for too.
    if (!opts.out) return "";
  }
  const text = opts.format === "markdown" ? exportSessionMarkdown(session) : exportChainText(session.chain);
  if (!opts.out) {
    // Model text is untrusted: on a terminal its escape sequences are removed (a file gets it as written).
    const shown = (stdout as NodeJS.WriteStream).isTTY
      ? stripAnsi(text).replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g, "")
      : text;
    stdout.write(shown);
    return shown;
  }
  await ensureDir(dirname(opts.out), "export");
  await writeFileVerified(opts.out, text, { mode: 0o644, what: "export" });
  return text;
}

export function register(program: Command): void {
  program
    .command("export <session.json>")
    .description("print a saved session's chain as plain text (a transfer CoT) or the whole session as Markdown")
    .addOption(new Option("--format <format>", "text: the chain only; markdown: problem, steps, targets").choices(["text", "markdown"]).default("text"))
    .option("--out <file>", "write to this file instead of standard output")
    .option("--html <file>", "write the session as a self-contained HTML page (chain, races, token shading, targets)")
    .action(async (file: string, opts: ExportOptions) => {
      await exportCommand(file, opts);
    });
}
