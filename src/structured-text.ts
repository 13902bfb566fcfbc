// Parsing JSON and YAML files the user wrote, with errors that name the line and column.
import { parse as parseYaml, YAMLParseError } from "yaml";
import { UserError } from "./errors.js";

/** 1-based line and column of a character offset. */
function lineCol(text: string, offset: number): string {
  const before = text.slice(0, Math.max(0, Math.min(offset, text.length)));
  const line = before.split("\n").length;
  const col = offset - before.lastIndexOf("\n");
  return `line ${line}, column ${col}`;
}

/**
 * Parse a JSON or YAML document (JSON when the file name ends in .json, YAML otherwise; YAML
 * also reads JSON). A syntax error is one UserError naming the file, line and column.
 */
export function parseStructuredText(text: string, file: string): unknown {
  const json = /\.json$/i.test(file);
  try {
    return json ? JSON.parse(text) : parseYaml(text, { prettyErrors: false });
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const at = err.linePos?.[0];
      const where = at ? `line ${at.line}, column ${at.col}` : lineCol(text, err.pos[0]);
      const why = err.message.split("\n")[0].replace(/ at line \d+, column \d+.*$/, "");
      throw new UserError(`${file}: not valid YAML at ${where}: ${why.slice(0, 160)}`);
    }
    const msg = (err as Error).message ?? String(err);
    const m = /position (\d+)/.exec(msg);
    const pos = m ? Number(m[1]) : text.length;
    const why = !m || pos >= text.trimEnd().length ? "file ends early (truncated?)" : "not valid JSON";
    throw new UserError(`${file}: ${why} at ${lineCol(text, pos)}`);
  }
}
