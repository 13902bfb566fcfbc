// 6. Memory: peak RSS of a fresh process that opens a long session (every candidate kept)
// in the interface, against the same process opening nothing. See memory-child.tsx.
import { spawnSync } from "node:child_process";
import { interactiveEnv } from "./lib.js";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { writeSession } from "../src/state/sessions.js";
import { syntheticSession } from "./session-gen.js";
import { check, fmt, mib, ms, table, timed, type Bench } from "./lib.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

export interface ChildFigures {
  rssStart: number;
  peakRss: number;
  heapUsed: number;
  loadMs: number;
  frameMs: number;
  sentencesInStore: number;
  frameShowsChain: boolean;
}

export interface MemoryFigures extends ChildFigures {
  n: number;
  fileBytes: number;
  writeMs: number;
}

/** Write an n-sentence session here, then open it (n = 0: open nothing) in a fresh process. */
export async function measureMemory(n: number, k: number): Promise<MemoryFigures> {
  const dir = mkdtempSync(join(tmpdir(), "concord-bench-mem-"));
  try {
    let file = "-";
    let writeMs = 0;
    let fileBytes = 0;
    if (n > 0) {
      file = join(dir, "session.json");
      writeMs = (await timed(() => writeSession(file, syntheticSession(n, k)))).ms;
      fileBytes = statSync(file).size;
    }
    const r = spawnSync(process.execPath, ["--import", "tsx", join(root, "bench", "memory-child.tsx"), file], {
      cwd: root,
      env: interactiveEnv(),
      encoding: "utf8",
      timeout: 300_000,
    });
    const line = r.stdout.trim().split("\n").at(-1) ?? "";
    if (r.status !== 0 || !line.startsWith("{"))
      throw new Error(`memory child failed (${r.status}): ${(r.stderr || r.stdout).trim().split("\n").slice(-3).join(" / ")}`);
    return { ...(JSON.parse(line) as ChildFigures), n, fileBytes, writeMs };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export const memory: Bench = {
  name: "memory",
  title: "Memory of a long session",
  async run({ quick, log }) {
    const n = quick ? 20 : 500;
    const k = 6;
    log?.(`memory: ${n}-sentence session, ${k} candidates per sentence`);
    const floor = await measureMemory(0, k);
    const big = await measureMemory(n, k);
    const extra = big.peakRss - floor.peakRss;
    return {
      body: [
        `A synthetic session in the session schema: ${n} accepted sentences, each with all ${k} candidates kept (text, raw text, per-token logprobs, two evaluators' scores with their tokens). ` +
          `Written with writeSession (in the benchmark process); then a fresh process loads it with loadSession (validated), opens it in the store and renders the Ink App on the Race screen (100x40).`,
        table(
          ["figure", "empty interface", `${n}-sentence session`],
          [
            ["peak RSS", mib(floor.peakRss), mib(big.peakRss)],
            ["RSS after imports", mib(floor.rssStart), mib(big.rssStart)],
            ["heap used after render", mib(floor.heapUsed), mib(big.heapUsed)],
            ["session file", "-", mib(big.fileBytes)],
            ["writeSession (validate + atomic write + fsync)", "-", ms(big.writeMs)],
            ["loadSession (parse + validate)", "-", ms(big.loadMs)],
            ["open + render until the chain is drawn (floor: first frame)", ms(floor.frameMs), ms(big.frameMs)],
          ],
        ),
        `Both processes run the TypeScript sources through tsx, whose loader is part of the floor. Peak RSS attributable to the session: ${mib(extra)} (${fmt(extra / Math.max(1, big.fileBytes), 1)}x the file size).`,
      ],
      checks: [check(`the ${n}-sentence session is open and drawn`, big.sentencesInStore, `= ${n}`, big.sentencesInStore === n && big.frameShowsChain)],
      notes: [
        `Every autosave rewrites the whole file: at ${n} sentences one save costs about ${ms(big.writeMs)} (compact JSON, fsync), once per accepted sentence.`,
      ],
    };
  },
};
