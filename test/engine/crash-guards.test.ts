// installCrashGuards: an error nobody caught is one line and exit code 1, in a real process.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const ROOT = new URL("../..", import.meta.url).pathname;
const MODULE = pathToFileURL(join(ROOT, "src", "engine", "crash-guards.ts")).href;

function child(body: string) {
  const code = `import { installCrashGuards } from ${JSON.stringify(MODULE)};\ninstallCrashGuards();\n${body}`;
  return spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], { cwd: ROOT, encoding: "utf8", timeout: 20_000 });
}

test("an unhandled rejection is one line on stderr and exit code 1", () => {
  const r = child(`Promise.reject(new Error("the server went away\\n  at nowhere"));\nsetTimeout(() => process.stdout.write("still running"), 500);`);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^concord: the server went away +at nowhere\n$/);
  assert.equal(r.stdout, "", "the process stops");
});

test("an uncaught exception (thrown from a timer) is one line and exit code 1", () => {
  const r = child(`setTimeout(() => { throw new TypeError("cannot read x of undefined"); }, 10);`);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "concord: cannot read x of undefined\n");
});

test("a rejection with a non-Error value still gives a message", () => {
  const r = child(`Promise.reject("plain string");`);
  assert.equal(r.status, 1);
  assert.equal(r.stderr, "concord: plain string\n");
});

test("without the guards Node prints a stack trace (what the guards replace)", () => {
  const r = spawnSync(process.execPath, ["--input-type=module", "-e", `Promise.reject(new Error("boom"));`], { encoding: "utf8", timeout: 20_000 });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /\n\s+at /);
});
