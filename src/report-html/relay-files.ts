// Relay results saved in a results folder (`concord relay --json > <dir>/relay-<name>.json`):
// found by name, validated by the fields the page draws, a bad one named on one line.
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import type { RelayResult } from "../engine/relay.js";
import type { RelayFile } from "./results.js";

const reply = z.object({ grade: z.object({ answer: z.string(), correct: z.boolean() }) }).passthrough();
const relaySchema = z
  .object({
    problemId: z.string(),
    initiator: z
      .object({ model: z.string(), sentences: z.array(z.string()), answer: reply, stepScores: z.array(z.number().nullable()).optional() })
      .passthrough(),
    cutPoints: z.record(z.string(), z.number()),
    runs: z.array(
      z
        .object({
          cut: z.union([z.string(), z.number()]),
          continuer: z.string(),
          sentences: z.array(z.string()),
          handover: z.number().int().min(0),
          answer: reply,
          agrees: z.boolean(),
          comparison: z.enum(["agrees", "differs", "no-answer"]).optional(),
          stepScores: z.array(z.number().nullable()).optional(),
          departure: z.object({ sentence: z.number().int().min(0), answer: z.string() }).nullable(),
        })
        .passthrough(),
    ),
    scorer: z.string().optional(),
  })
  .passthrough();

export const RELAY_FILE = /^relay.*\.json$/i;

/** Relay files of a folder, in name order; `warn` gets one line per file that is not a relay. */
export async function readRelayFiles(dir: string, warn: (line: string) => void): Promise<RelayFile[]> {
  let names: string[];
  try {
    names = (await readdir(dir)).filter((n) => RELAY_FILE.test(n)).sort();
  } catch {
    return [];
  }
  const out: RelayFile[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      const parsed = relaySchema.safeParse(JSON.parse(await readFile(file, "utf8")));
      if (!parsed.success) {
        const i = parsed.error.issues[0]!;
        warn(`${file}: not a relay result (field ${i.path.join(".") || "(top)"}: ${i.message}), skipped`);
        continue;
      }
      out.push({ file: name, result: parsed.data as unknown as RelayResult });
    } catch (err) {
      warn(`${file}: ${err instanceof SyntaxError ? "not valid JSON" : "cannot read"}, skipped`);
    }
  }
  return out;
}
