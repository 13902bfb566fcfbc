#!/usr/bin/env node
// Runs the built program (dist/, made by `npm run build`; `npm ci` builds it). The TypeScript
// sources run with `npm run dev -- <args>` instead.
import module from "node:module";
import { existsSync, statSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

// Node 22.1 and later keep compiled code on disk (in the temporary folder): later starts skip
// compiling the bundle again. Node 20 has no such cache for ES modules.
module.enableCompileCache?.();

// React's development build costs several times the CPU per frame; Concord ships the production one.
process.env.NODE_ENV ??= "production";

const dist = join(dirname(fileURLToPath(import.meta.url)), "..", "dist");
const built = join(dist, "cli.js");
if (!existsSync(built)) {
  process.stderr.write("concord: no build found (dist/cli.js): run `npm run build`, or `npm run dev -- <args>` to run the sources\n");
  process.exit(1);
}
// The bundle of the same build (scripts/bundle.mjs) starts in half the time; one older than the
// build (tsc run alone) is not used.
const bundled = join(dist, "bundle", "cli.js");
const mtime = (file) => {
  try {
    return statSync(file).mtimeMs;
  } catch {
    return -1;
  }
};
await import(pathToFileURL(mtime(bundled) >= mtime(built) ? bundled : built).href);
