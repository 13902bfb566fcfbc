// The static checks: the linter, the two type checks and Prettier (all of them for `npm test`;
// `node scripts/check.mjs eslint tsc` runs only those named, as `npm run lint` does). Each is
// single-threaded, so they run side by side, one per core; each one's output is printed whole
// when it ends, and any failure fails the whole.
import { spawn } from "node:child_process";
import { availableParallelism } from "node:os";

const bin = (name) => `node_modules/.bin/${name}`;
const checks = [
  ["eslint", bin("eslint"), ["--cache", "--cache-location", "node_modules/.cache/eslint/", "."]],
  ["tsc", bin("tsc"), ["--noEmit", "--incremental", "--tsBuildInfoFile", "node_modules/.cache/tsc/main.tsbuildinfo"]],
  ["tsc-core", bin("tsc"), ["-p", "tsconfig.core.json", "--incremental", "--tsBuildInfoFile", "node_modules/.cache/tsc/core.tsbuildinfo"]],
  ["prettier", bin("prettier"), ["--check", "--cache", "--log-level", "warn", "."]],
];

function run([name, cmd, args]) {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", (err) => resolve({ name, ok: false, out: String(err), s: 0 }));
    child.on("close", (code) => resolve({ name, ok: code === 0, out, s: (performance.now() - started) / 1000 }));
  });
}

const named = process.argv.slice(2);
const unknown = named.filter((n) => !checks.some(([name]) => name === n));
if (unknown.length) {
  console.error(`no check named ${unknown.join(", ")}; the checks are ${checks.map(([name]) => name).join(", ")}`);
  process.exit(2);
}
const queue = named.length ? checks.filter(([name]) => named.includes(name)) : [...checks];
const results = [];
await Promise.all(
  Array.from({ length: Math.max(1, availableParallelism()) }, async () => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const r = await run(next);
      if (r.out.trim()) process.stdout.write(r.out.endsWith("\n") ? r.out : `${r.out}\n`);
      process.stdout.write(`${r.ok ? "ok" : "FAILED"}: ${r.name} (${r.s.toFixed(1)} s)\n`);
      results.push(r);
    }
  }),
);
process.exit(results.every((r) => r.ok) ? 0 : 1);
