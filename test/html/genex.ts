// The paper's 25 shared output files imported once (by the real command) into a temporary results folder.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const OUTPUTS = "../shared/data/genex/medcalc/outputs";
export const TRACES = "../shared/data/genex/medcalc/ensemble_qwq_dapo_eval_oss";

export function concord(...args: string[]) {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, ["test/concord-from-source.mjs", ...args], { cwd: ROOT, env: { ...process.env }, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, ms: performance.now() - t0 };
}

export function importedGenex(): string {
  const out = mkdtempSync(join(tmpdir(), "concord-html-genex-"));
  const r = concord("import", "genex", OUTPUTS, "--out", out);
  if (r.code !== 0) throw new Error(`import genex failed: ${r.stderr}`);
  return out;
}
