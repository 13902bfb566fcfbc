// The built program's launcher (src/app/launch-bundle.ts): a start writes its compiled code, a
// later start of the same kind uses it, a changed build or a damaged file is compiled again, and
// no cache at all (off, or a folder that cannot be written) changes nothing but the time.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { codeCacheDir, codeCacheKind } from "../../src/app/launch-bundle.js";
import { bundleScript } from "../../scripts/bundle.mjs";

test("each kind of start has its own cache: the interface, help, and each command", () => {
  assert.equal(codeCacheKind([]), "main");
  assert.equal(codeCacheKind(["--model", "m.gguf", "--theme", "light"]), "main", "an option's value is not a command");
  assert.equal(codeCacheKind(["--help"]), "help");
  assert.equal(codeCacheKind(["run", "--help"]), "help");
  assert.equal(codeCacheKind(["-V"]), "help");
  assert.equal(codeCacheKind(["run", "spec.yaml"]), "run");
  assert.equal(codeCacheKind(["--model", "m.gguf", "report", "r"]), "report");
  assert.equal(codeCacheKind(["../../etc/passwd"]), "other", "only a command's name becomes part of a file name");
  assert.equal(codeCacheKind(["--bogus"]), "other");
});

test("the cache folder: the variable, off, or the user's cache folder", () => {
  assert.equal(codeCacheDir({ CONCORD_CODE_CACHE: "/x/y" }), "/x/y");
  assert.equal(codeCacheDir({ CONCORD_CODE_CACHE: "off" }), undefined);
  assert.equal(codeCacheDir({ XDG_CACHE_HOME: "/c", HOME: "/h" }), join("/c", "concord", "code"));
  assert.match(codeCacheDir({ XDG_CACHE_HOME: "relative" })!, /[\\/]\.cache[\\/]concord[\\/]code$/, "a relative XDG_CACHE_HOME is ignored");
});

// A launcher (the built launcher's code, bundled from src) for a small CommonJS program that
// reports what it was given, including whether the launcher's import() reaches an ES module.
async function launcherFor(dir: string): Promise<{ launcher: string; program: string }> {
  const program = join(dir, "program.cjs");
  writeFileSync(join(dir, "esm.mjs"), "export const answer = 42;\n");
  const entry = join(dir, "launch.ts");
  writeFileSync(
    entry,
    `import { launchBundle } from ${JSON.stringify(join(import.meta.dirname, "..", "..", "src", "app", "launch-bundle.ts"))};\nlaunchBundle(${JSON.stringify(program)}, { writeAfterMs: 60_000 });\n`,
  );
  const launcher = await bundleScript({ entry, outdir: join(dir, "launcher") });
  return { launcher, program };
}
const PROGRAM = (tag: string) =>
  `const answer = __concordImport(require("node:url").pathToFileURL(__dirname + "/esm.mjs").href);\n` +
  `answer.then((m) => console.log(JSON.stringify({ tag: ${JSON.stringify(tag)}, file: __filename, answer: m.answer, exportsIsObject: typeof module.exports === "object" })));\n`;

function start(launcher: string, cache: string, args: string[] = []) {
  const r = spawnSync(process.execPath, [launcher, ...args], { encoding: "utf8", env: { ...process.env, CONCORD_CODE_CACHE: cache } });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "");
  return JSON.parse(r.stdout) as { tag: string; file: string; answer: number; exportsIsObject: boolean };
}
const made: string[] = [];
after(() => made.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const scratch = () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-launch-"));
  made.push(dir);
  return dir;
};
const files = (dir: string) => {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
};

test("a start writes its compiled code, the next start of that kind reads it, a changed build replaces it", async () => {
  const dir = scratch();
  const cache = join(dir, "cache");
  const { launcher, program } = await launcherFor(dir);
  writeFileSync(program, PROGRAM("first"));

  const first = start(launcher, cache);
  assert.deepEqual(first, { tag: "first", file: program, answer: 42, exportsIsObject: true });
  const written = files(cache);
  assert.equal(written.length, 1, "one cache file, written at exit");
  assert.match(written[0]!, new RegExp(`^main@${process.version.replace(/\./g, "\\.")}-${process.arch}-\\d+-\\d+\\.v8$`));
  const stamp = statSync(join(cache, written[0]!)).mtimeMs;
  assert.ok(statSync(cache).mode % 0o1000 === 0o700, "the folder is the user's own");

  // Accepted: not written again.
  start(launcher, cache);
  assert.equal(statSync(join(cache, written[0]!)).mtimeMs, stamp);
  // Another kind of start: its own file.
  start(launcher, cache, ["report", "r"]);
  assert.deepEqual(
    files(cache).map((f) => f.split("@")[0]),
    ["main", "report"],
  );

  // A new build (other length): compiled and cached again, and the old build's cache of that kind goes.
  writeFileSync(program, PROGRAM("second, longer"));
  assert.equal(start(launcher, cache).tag, "second, longer");
  const now = files(cache).filter((f) => f.startsWith("main@"));
  assert.equal(now.length, 1);
  assert.notEqual(now[0], written[0]);
});

test("a damaged cache is compiled past and rewritten; off and an unwritable folder keep none", async () => {
  const dir = scratch();
  const cache = join(dir, "cache");
  const { launcher, program } = await launcherFor(dir);
  writeFileSync(program, PROGRAM("x"));
  start(launcher, cache);
  const [name] = files(cache);
  writeFileSync(join(cache, name!), Buffer.from("not V8's code cache at all"));
  assert.equal(start(launcher, cache).answer, 42);
  assert.ok(readFileSync(join(cache, name!)).length > 1000, "rewritten after V8 rejected it");

  start(launcher, "off");
  assert.deepEqual(files(join(dir, "off")), []);

  // A folder that cannot be made (under a file: refused even to root).
  const file = join(dir, "a-file");
  writeFileSync(file, "");
  assert.equal(start(launcher, join(file, "cache")).answer, 42);
});
