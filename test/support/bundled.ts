// A test's child script bundled once per test file, with the program's own bundle settings
// (scripts/bundle.mjs): a test that starts the script dozens of times then starts it without
// compiling TypeScript in each process. The bundle sits under dist/ so that the packages left
// outside it (node-llama-cpp) resolve from the project's node_modules; it is removed on exit.
import { rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { bundleScript } from "../../scripts/bundle.mjs";

const ROOT = resolve(import.meta.dirname, "..", "..");
const made = new Map<string, Promise<string>>();

export function bundledScript(entry: string): Promise<string> {
  let found = made.get(entry);
  if (!found) {
    const outdir = join(ROOT, "dist", `test-fixture-${process.pid}-${made.size}`);
    process.once("exit", () => rmSync(outdir, { recursive: true, force: true }));
    found = bundleScript({ entry: resolve(ROOT, entry), outdir });
    made.set(entry, found);
  }
  return found;
}
