// The interactive interface: `concord` with no subcommand, and `concord replay <file>`.
import type { Command } from "commander";

interface OpenFlags {
  model?: string;
  models?: string;
  session?: string;
  replay?: string;
  sessionsDir?: string;
  theme?: string;
  set?: string[];
  results?: string[];
  /** replay: the problem of a trace recording to open. */
  problem?: string;
}

async function open(flags: OpenFlags): Promise<void> {
  // Ink draws only a final frame when it believes it runs in CI (it reads CI when first
  // loaded). A person at a real terminal gets the live interface whatever the environment says.
  if (process.stdin.isTTY && process.stdout.isTTY) {
    delete process.env.CI;
    delete process.env.CONTINUOUS_INTEGRATION;
  }
  // Loaded lazily so that headless commands never pay for React and Ink.
  const { launchUI } = await import("../app/interactive.js");
  // The interface reports stray errors in its status line instead of ending the session.
  const { removeCrashGuards } = await import("../engine/crash-guards.js");
  removeCrashGuards();
  await launchUI({
    modelPath: flags.model,
    modelsFile: flags.models,
    session: flags.session,
    replay: flags.replay,
    sessionsDir: flags.sessionsDir,
    theme: flags.theme,
    sets: flags.set,
    resultsDirs: flags.results,
    problem: flags.problem,
    env: process.env,
  });
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function register(program: Command): void {
  program
    .option("--model <file.gguf>", "run every role on this one local GGUF (same as CONCORD_MODEL)")
    .option("--models <file>", "the models and roles to use (YAML or JSON; same as CONCORD_MODELS)")
    .option("--session <file>", "resume a saved session")
    .option("--sessions-dir <dir>", "where sessions are autosaved (default: $CONCORD_SESSIONS_DIR or ./sessions)")
    .option("--theme <name|file.json>", "dark, light, mono, or a theme file")
    .option("--set <file>", "a problem set to list on the Problems screen (repeatable)", collect)
    .option("--results <dir>", "a results folder to list on the Results screen (repeatable)", collect)
    .action(async (flags: OpenFlags) => open(flags));

  program
    .command("replay")
    .description("open a saved session or a backend recording in the interface")
    .argument("<file>", "a session JSON file or a recording (.jsonl)")
    .option("--theme <name|file.json>", "dark, light, mono, or a theme file")
    .option("--problem <tag>", "in a recording of several problems (an imported trace folder): which one, by tag or Row Number")
    .action(async (file: string, flags: OpenFlags) => {
      await open({ ...flags, replay: file });
    });
}
