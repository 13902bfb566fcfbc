// `concord export <session.json> [--format text|markdown] [--out file]`: a saved session as the
// plain chain text (to reuse as a transfer CoT) or as a Markdown report. `--branches [--json]`
// gives every branch of the session tree, `--branch <id>` one of them as a transfer CoT.
import { Option, type Command } from "commander";
import { dirname } from "node:path";
import stripAnsi from "strip-ansi";
import { ensureDir, writeFileVerified } from "../fsutil/write.js";
import { branches, chainAt } from "../core/tree.js";
import { UserError } from "../errors.js";
import { exportChainText, exportSessionMarkdown, loadSession, sessionTree, type SessionFile } from "../state/sessions.js";
import { renderSessionHtml } from "../report-html/index.js";
import { writeHtmlFile } from "./report-html.js";

export type ExportFormat = "text" | "markdown";

export interface ExportOptions {
  format?: ExportFormat;
  out?: string;
  /** Also (or only) write the session as a self-contained HTML page. */
  html?: string;
  /** Every branch of the tree, root to leaf. */
  branches?: boolean;
  /** With `branches`: a JSON array of arrays of sentence texts. */
  json?: boolean;
  /** One branch (named by its last node, or any node: the chain up to it), as a transfer CoT. */
  branch?: string;
}

/** The text an export prints: the chain, the session in Markdown, or branches of the tree. */
export function exportText(session: SessionFile, opts: ExportOptions, file: string): string {
  const tree = sessionTree(session);
  if (opts.branch !== undefined) {
    if (!tree.nodes.has(opts.branch))
      throw new UserError(
        `${file}: no node ${opts.branch} in this session (branches: ${branches(tree)
          .map((b) => b.id)
          .join(", ")})`,
      );
    return exportChainText(chainAt(tree, opts.branch));
  }
  if (opts.branches) {
    const all = branches(tree).map((b) => ({ id: b.id, chain: chainAt(tree, b.id) }));
    if (opts.json) return JSON.stringify(all.map((b) => b.chain.sentences.map((s) => s.text))) + "\n";
    return all.map((b) => `== branch ${b.id} (${b.chain.sentences.length} sentences)\n${exportChainText(b.chain)}`).join("\n");
  }
  if (opts.json) throw new UserError("--json goes with --branches");
  return opts.format === "markdown" ? exportSessionMarkdown(session) : exportChainText(session.chain);
}

/** Render a session file; writes to `opts.out` or to `stdout`. Bad files throw one line naming file and place. */
export async function exportCommand(file: string, opts: ExportOptions = {}, stdout: NodeJS.WritableStream = process.stdout): Promise<string> {
  const session = await loadSession(file);
  if (opts.html) {
    await writeHtmlFile(opts.html, await renderSessionHtml(session));
    // The page is the whole export unless a text or Markdown file was asked for too.
    if (!opts.out) return "";
  }
  const text = exportText(session, opts, file);
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
    .option("--branches", "every branch of the session tree, root to leaf (with --json: an array of arrays of sentence texts)")
    .option("--json", "with --branches: print JSON")
    .option("--branch <id>", "one branch (named by its last node, as --branches lists them) as plain text, a transfer CoT")
    .action(async (file: string, opts: ExportOptions) => {
      await exportCommand(file, opts);
    });
}
