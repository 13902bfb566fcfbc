// Semantic colour roles read from themes/*.json (or a user file). Components ask for a role,
// never for a colour, so a theme (or NO_COLOR) changes the whole interface at once.
import { readFileSync, existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { createContext, useContext } from "react";
import { z } from "zod";
import { UserError } from "../errors.js";

export const ROLES = [
  "text",
  "muted",
  "accent",
  "border",
  "title",
  "selection",
  "pick",
  "human",
  "error",
  "warning",
  "success",
  "correct",
  "wrong",
  "pending",
  "agree",
  "disagree",
  "key",
] as const;
export type Role = (typeof ROLES)[number];

// The colours Ink draws (its colorize): a named colour, #rgb / #rrggbb, rgb(r, g, b) or
// ansi256(n). Anything else is refused here: Ink looks a name up on chalk, so "__proto__" or
// "constructor" would be called as a colour function and crash the interface.
export const COLOR_NAMES = [
  "black",
  "red",
  "green",
  "yellow",
  "blue",
  "magenta",
  "cyan",
  "white",
  "gray",
  "grey",
  "blackBright",
  "redBright",
  "greenBright",
  "yellowBright",
  "blueBright",
  "magentaBright",
  "cyanBright",
  "whiteBright",
] as const;
const byte = "(?:25[0-5]|2[0-4]\\d|1?\\d?\\d)";
const COLOR = new RegExp(`^(?:#[0-9a-fA-F]{3}|#[0-9a-fA-F]{6}|rgb\\(\\s?${byte},\\s?${byte},\\s?${byte}\\s?\\)|ansi256\\(\\s?${byte}\\s?\\))$`);
export function isThemeColor(v: string): boolean {
  return (COLOR_NAMES as readonly string[]).includes(v) || COLOR.test(v);
}
const colorSchema = z
  .string()
  .refine(isThemeColor, { message: `not a colour (a name such as ${COLOR_NAMES.slice(0, 4).join(", ")}, #rrggbb, rgb(r, g, b) or ansi256(n))` });

const styleSchema = z
  .object({
    color: colorSchema.optional(),
    backgroundColor: colorSchema.optional(),
    bold: z.boolean().optional(),
    italic: z.boolean().optional(),
    underline: z.boolean().optional(),
    inverse: z.boolean().optional(),
    dimColor: z.boolean().optional(),
  })
  .strict();
export type Style = z.infer<typeof styleSchema>;

const themeSchema = z.object({
  name: z.string().min(1),
  roles: z.object(Object.fromEntries(ROLES.map((r) => [r, styleSchema])) as Record<Role, typeof styleSchema>),
  authors: z.array(styleSchema).min(1),
  nllRamp: z.array(styleSchema).min(2),
});
export type Theme = z.infer<typeof themeSchema>;

export const BUILTIN_THEMES = ["dark", "light", "mono"] as const;

/** The themes/ folder at the package root (same relative place from src/ui and dist/ui). */
export function themesDir(): string {
  return join(dirname(fileURLToPath(import.meta.url)), "..", "..", "themes");
}

/** Parse and validate a theme file; a bad file is one line naming the file and the field. */
export function readThemeFile(file: string): Theme {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UserError(`${file}: cannot read theme (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new UserError(`${file}: not valid JSON (${(err as Error).message.split("\n")[0]})`);
  }
  const parsed = themeSchema.safeParse(data);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UserError(`${file}: ${issue.path.join(".") || "(top)"}: ${issue.message}`);
  }
  return parsed.data;
}

export interface ThemeChoice {
  /** A builtin theme name or a path to a JSON theme file. */
  theme?: string;
  env?: NodeJS.ProcessEnv;
}

/** NO_COLOR (any non-empty value, https://no-color.org) forces the mono theme. */
export function loadTheme(choice: ThemeChoice = {}): Theme {
  const env = choice.env ?? process.env;
  if (env.NO_COLOR) return readThemeFile(join(themesDir(), "mono.json"));
  const name = choice.theme ?? "dark";
  if ((BUILTIN_THEMES as readonly string[]).includes(name)) return readThemeFile(join(themesDir(), `${name}.json`));
  const file = resolve(name);
  if (!existsSync(file)) throw new UserError(`theme "${name}": not a builtin theme (${BUILTIN_THEMES.join(", ")}) and no such file`);
  return readThemeFile(file);
}

/** A stable colour per author: the same model keeps its colour across runs. */
export function authorStyle(theme: Theme, author: string, known: string[] = []): Style {
  if (author === "human") return theme.roles.human;
  let idx = known.indexOf(author);
  if (idx < 0) {
    let h = 0;
    for (const ch of author) h = (h * 31 + ch.codePointAt(0)!) >>> 0;
    idx = h;
  }
  return theme.authors[idx % theme.authors.length];
}

/** Shade for a token's negative log-likelihood: 0 nats is the first step, `max` and above the last. */
export function nllStyle(theme: Theme, nll: number, max = 8): Style {
  const ramp = theme.nllRamp;
  const x = Math.max(0, Math.min(1, nll / max));
  return ramp[Math.min(ramp.length - 1, Math.floor(x * ramp.length))];
}

export const ThemeContext = createContext<Theme | null>(null);

export function useTheme(): Theme {
  const t = useContext(ThemeContext);
  if (!t) throw new Error("ThemeContext missing");
  return t;
}
