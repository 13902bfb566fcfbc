#!/usr/bin/env node
// Runs the built program (dist/, made by `npm ci` / `npm run build`). Falls back to the
// TypeScript sources through tsx when there is no build, when a source file is newer than the
// build (a checkout being worked on), or when CONCORD_FROM_SOURCE is set.
import { existsSync, readdirSync, statSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

// React's development build costs several times the CPU per frame; Concord ships the production one.
process.env.NODE_ENV ??= "production";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const built = join(root, "dist", "cli.js");

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestSource(path) : statSync(path).mtimeMs);
  }
  return newest;
}

const useBuild =
  !process.env.CONCORD_FROM_SOURCE && existsSync(built) && (!existsSync(join(root, "src")) || newestSource(join(root, "src")) <= statSync(built).mtimeMs);
if (useBuild) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(join(root, "src", "cli.tsx")).href);
}
