// A small GGUF for tests that need a model but not a particular one: stories260K from ../shared
// when it is there (as in CI), else the demo model Concord writes itself.
import { existsSync, mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { demoModelBytes, demoModelPath } from "../../src/backends/demo-model.js";
import { sharedPath } from "./shared.js";

export const STORIES_FILE = sharedPath("models", "stories260K.gguf");

/** The demo model's file (written into the test run's models folder when missing). */
export function demoModelFile(): string {
  const path = demoModelPath(process.env);
  if (!existsSync(path)) {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    // Through a rename: test files in other processes may read it meanwhile.
    writeFileSync(tmp, demoModelBytes());
    renameSync(tmp, path);
  }
  return path;
}

/** stories260K when ../shared has it, else the demo model. */
export function anyModelFile(): string {
  return existsSync(STORIES_FILE) ? STORIES_FILE : demoModelFile();
}
