// The shared models and data beside the repository (../shared). Tests that need them are
// skipped, with one line saying what they need, on a clone that has nothing beside it; CI has
// them, and fails when anything is skipped there.
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { join } from "node:path";

/** Absolute path of ../shared (beside the repository root). */
export const SHARED = fileURLToPath(new URL("../../../shared/", import.meta.url));

/** A path inside ../shared. */
export function sharedPath(...parts: string[]): string {
  return join(SHARED, ...parts);
}

/**
 * false when every path (relative to ../shared) is there; otherwise the skip reason, one line.
 * With CONCORD_REQUIRE_SHARED=1 (CI) a missing path is an error instead of a skip.
 */
export function needsShared(...paths: string[]): string | false {
  const missing = paths.filter((p) => !existsSync(sharedPath(p)));
  if (!missing.length) return false;
  const reason = `needs ../shared/${missing.join(", ../shared/")} (not beside this clone)`;
  if (process.env.CONCORD_REQUIRE_SHARED === "1") throw new Error(`CONCORD_REQUIRE_SHARED=1 but the test ${reason}`);
  return reason;
}
