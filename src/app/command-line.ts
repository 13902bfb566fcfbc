// What a command line asks for, read before anything else is loaded: by the program (which
// command modules to load, src/app/headless.ts) and by its launcher (which code cache to use,
// src/app/launch-bundle.ts). No imports: the launcher stays small.

/** Options of the interface's own command that take a value (src/commands/open.ts). */
const INTERFACE_VALUE_OPTIONS = new Set(["--model", "--models", "--session", "--sessions-dir", "--theme", "--set", "--results"]);

/** The first argument that is not an option of the root (or its value); undefined at root help. */
export function commandName(args: readonly string[]): string | undefined {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.split("=")[0]!;
    if (INTERFACE_VALUE_OPTIONS.has(name)) {
      if (!a.includes("=")) i++;
      continue;
    }
    if (a.startsWith("-")) return undefined;
    return a;
  }
  return undefined;
}

/**
 * Whether these arguments only open the interface: no subcommand, no help or version, nothing
 * but the interface's own options. Anything else goes through every command as before.
 */
export function opensInterface(args: readonly string[]): boolean {
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const name = a.split("=")[0]!;
    if (!INTERFACE_VALUE_OPTIONS.has(name)) return false;
    if (!a.includes("=")) i++;
  }
  return true;
}
