// The command-line entry: parses arguments and routes to a headless command, or to the
// interactive entry (src/app/interactive.tsx, loaded only when the interface opens). Each
// command reads its flags and environment once and opens its models with one source
// (engine/models.ts: modelSourceOf, openModels).
import { Command } from "commander";
import { commandModules, type CommandModule } from "../commands/index.js";
import { oneLine } from "../errors.js";
import { installCrashGuards } from "../engine/crash-guards.js";
import { commandName, opensInterface } from "./command-line.js";

export async function main(argv: string[]): Promise<void> {
  // A stray rejection or exception becomes one line and exit code 1, never a stack trace.
  installCrashGuards();
  const program = new Command("concord")
    .description("A terminal workbench for cross-model chain-of-thought experiments")
    .version("0.1.0")
    .enablePositionalOptions()
    .showSuggestionAfterError()
    .exitOverride();
  // Only the modules the command line names are loaded: every other command (and what each
  // imports, the HTML report's charts among them) would cost start-up time and memory for nothing.
  for (const load of modulesFor(argv.slice(2))) (await load()).register(program);
  try {
    await program.parseAsync(argv);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === "commander.helpDisplayed" || code === "commander.version" || code === "commander.help") return;
    if (code?.startsWith("commander.")) {
      process.exitCode = (err as { exitCode?: number }).exitCode ?? 2;
      return;
    }
    process.stderr.write(`concord: ${oneLine(err)}\n`);
    process.exitCode = 1;
  }
}

/**
 * The command modules these arguments need: the interface's own (it is the default command)
 * and the module of the subcommand named; every module for root help or an unknown name, so
 * help lists everything and a typo is answered with a suggestion.
 */
export function modulesFor(args: readonly string[]): CommandModule[] {
  const open = commandModules.find((m) => m.names.includes("replay"))!.load;
  if (opensInterface(args)) return [open];
  const name = commandName(args);
  const named = name === undefined ? undefined : commandModules.find((m) => m.names.includes(name));
  if (!named) return commandModules.map((m) => m.load);
  return named.load === open ? [open] : [open, named.load];
}
