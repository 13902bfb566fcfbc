// Runs every test file under test/ with Node's own test runner (Node 20 has no glob in --test).
// One file more than there are cores at a time, at least 3 and at most 4 (CONCORD_TEST_JOBS=N to
// change; 1 for one at a time): many files spend part of their time waiting on child processes,
// servers and streams, and a core would stand idle meanwhile.
// The interface tests are the most sensitive to a busy machine: CONCORD_TEST_JOBS=1 on one that
// other work already loads. One runner, one summary.
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, tmpdir } from "node:os";
import { bundleProgram } from "../scripts/bundle.mjs";
import { bundleTests } from "./support/bundle-tests.mjs";

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out.push(...find(path));
    else if (/\.test\.tsx?$/.test(name)) out.push(path);
  }
  return out;
}

const only = process.argv.slice(2);
const files = only.length ? only : find("test").sort();
// Tests never read or write the user's settings, response cache or models folder: each test
// file gets fresh ones (test/support/file-env.mjs), so results cannot depend on what an earlier
// run, or a file running beside it, left behind.
const scratch = mkdtempSync(join(tmpdir(), "concord-test-"));
const env = { ...process.env, CONCORD_TEST_SCRATCH: scratch };
// The program the tests start as a process (test/concord-from-source.mjs) is the sources bundled
// once for the run, as `npm run build` bundles them: compiling the sources again in each of
// several hundred processes took about a third of the suite's CPU.
const program = join("dist", `test-bundle-${process.pid}`);
// The test files themselves, compiled once (test/support/bundle-tests.mjs).
const compiled = join("dist", `test-run-${process.pid}`);
const cleanUp = () => {
  for (const dir of [scratch, program, compiled]) rmSync(dir, { recursive: true, force: true });
};
try {
  env.CONCORD_TEST_PROGRAM = resolve(await bundleProgram({ entry: join("src", "cli.tsx"), outdir: program }));
  // Its compiled code is kept for the run, beside it, and shared by every process that starts it.
  env.CONCORD_CODE_CACHE ??= resolve(program, "code-cache");
} catch (err) {
  // The bundle is the program users run: one that does not build fails the run.
  console.error(`the sources do not bundle as \`npm run build\` bundles them: ${String(err)}`);
  cleanUp();
  process.exit(1);
}
const jobs = Math.max(1, Number.parseInt(process.env.CONCORD_TEST_JOBS ?? "", 10) || Math.min(4, Math.max(3, availableParallelism() + 1)));
// The slowest files first, so that none starts last and runs alone at the end.
const slowFirst = (f) => (/(^|\/)(e2e|faults)\//.test(f) ? 0 : 1);
const ordered = only.length ? files : [...files].sort((a, b) => slowFirst(a) - slowFirst(b) || a.localeCompare(b));
let runnable;
try {
  runnable = await bundleTests(ordered, compiled);
} catch (err) {
  console.error(`the tests do not compile: ${String(err)}`);
  cleanUp();
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ["--import", "./test/support/file-env.mjs", "--test", `--test-concurrency=${jobs}`, "--test-reporter=spec", ...runnable],
  { stdio: "inherit", env },
);
cleanUp();
process.exit(result.status ?? 1);
