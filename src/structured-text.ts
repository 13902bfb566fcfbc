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
    // Aliases are resolved after parsing: an alias to no anchor, or aliases that expand without
    // bound (an "alias bomb"), are not syntax errors and have no place of their own.
    if (!json && err instanceof ReferenceError) {
      const unresolved = /^Unresolved alias[^:]*: (.*)$/.exec(err.message);
      if (unresolved) {
        const at = text.indexOf(`*${unresolved[1]}`);
        throw new UserError(
          `${file}: YAML alias *${unresolved[1]} at ${lineCol(text, Math.max(0, at))} refers to no anchor (&${unresolved[1]} must come before it)`,
        );
      }
      if (/alias count/i.test(err.message)) {
        const at = /\*[^\s,\]}]+/.exec(text)?.index ?? 0;
        throw new UserError(`${file}: YAML aliases from ${lineCol(text, at)} expand without bound (an alias bomb?); not read`);
      }
      throw new UserError(`${file}: not valid YAML: ${err.message.split("\n")[0].slice(0, 160)}`);
    }
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
