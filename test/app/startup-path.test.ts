// The interface's start: `concord` with only the interface's own options loads that one command,
// not every headless command; anything else (a subcommand, help, an unknown option) goes the
// usual way. The engine is loaded by the first race, not by the launcher.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { modulesFor } from "../../src/app/headless.js";
import { opensInterface } from "../../src/app/command-line.js";
import { commandModules } from "../../src/commands/index.js";

test("only the interface's own options take the short way", () => {
  assert.equal(opensInterface([]), true);
  assert.equal(opensInterface(["--model", "m.gguf"]), true);
  assert.equal(opensInterface(["--model=m.gguf", "--theme", "light", "--set", "a.csv", "--set", "b.csv", "--results", "out"]), true);
  assert.equal(opensInterface(["--session", "s.json", "--sessions-dir", "s", "--models", "models.yaml"]), true);
  assert.equal(opensInterface(["run", "spec.yaml"]), false);
  assert.equal(opensInterface(["--model", "m.gguf", "run", "spec.yaml"]), false, "a subcommand after an option");
  assert.equal(opensInterface(["replay", "s.json"]), false);
  assert.equal(opensInterface(["--help"]), false);
  assert.equal(opensInterface(["-V"]), false);
  assert.equal(opensInterface(["--bogus"]), false, "an unknown option is reported by the full program");
});

test("a command line loads the interface's module and the one it names; help and typos load every module", async () => {
  const registered = async (args: string[]) => {
    const { Command } = await import("commander");
    const program = new Command("concord");
    for (const load of modulesFor(args)) (await load()).register(program);
    return program.commands.map((c) => c.name()).sort();
  };
  assert.deepEqual(await registered(["import", "genex", "outputs", "--out", "r"]), ["import", "replay"]);
  assert.deepEqual(await registered(["--model", "m.gguf", "report", "--help"]), ["replay", "report"]);
  assert.deepEqual(await registered(["replay", "s.json"]), ["replay"]);
  assert.deepEqual(await registered([]), ["replay"]);
  const every = commandModules.flatMap((m) => m.names).sort();
  assert.deepEqual(await registered(["--help"]), every, "each module's names are the commands it registers");
  assert.deepEqual(await registered(["reprot", "r"]), every);
});

test("the race port loads the engine when a race starts, not when the interface opens", () => {
  const source = readFileSync(join(import.meta.dirname ?? ".", "..", "..", "src", "app", "race.ts"), "utf8");
  const staticImports = [...source.matchAll(/^import (?!type )[^;]*from "([^"]+)";/gm)].map((m) => m[1]);
  assert.deepEqual(
    staticImports.filter((p) => p.startsWith("../engine/")),
    [],
  );
  assert.match(source, /import\("\.\.\/engine\/ensemble\.js"\)/);
});
