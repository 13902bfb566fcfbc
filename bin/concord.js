#!/usr/bin/env node
// Runs the built program (dist/, made by `npm run build`; `npm ci` builds it). The TypeScript
// sources run with `npm run dev -- <args>` instead.
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

// React's development build costs several times the CPU per frame; Concord ships the production one.
process.env.NODE_ENV ??= "production";

const built = join(dirname(fileURLToPath(import.meta.url)), "..", "dist", "cli.js");
if (!existsSync(built)) {
  process.stderr.write("concord: no build found (dist/cli.js): run `npm run build`, or `npm run dev -- <args>` to run the sources\n");
  process.exit(1);
}
await import(pathToFileURL(built).href);
