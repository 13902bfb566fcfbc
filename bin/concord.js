#!/usr/bin/env node
// Runs the built program (dist/, made by `npm ci` / `npm run build`); falls back to the
// TypeScript sources through tsx when no build is there (development checkouts).
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { dirname, join } from "node:path";

// React's development build costs several times the CPU per frame; Concord ships the production one.
process.env.NODE_ENV ??= "production";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const built = join(root, "dist", "cli.js");
if (existsSync(built) && !process.env.CONCORD_FROM_SOURCE) {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import(pathToFileURL(join(root, "src", "cli.tsx")).href);
}
