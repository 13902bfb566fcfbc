// `concord replay <session.json>` in a real terminal (tmux): the saved chain is stepped through
// with its recorded candidates, no model is asked until L, and L continues live (the tiny real
// model) as a new session, leaving the replayed file as it was.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, existsSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import type { Candidate, Chain } from "../../src/core/chain.js";
import { builtinProblems } from "../../src/problems/builtin.js";
import { sessionPath, toSessionFile, writeSession } from "../../src/state/sessions.js";
import { anyModelFile } from "../support/models.js";
import { tmuxDriver } from "../support/tmux.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const model = anyModelFile();
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const name = `concord-session-replay-${process.pid}`;
const skip = hasTmux ? (existsSync(model) ? false : `model missing: ${model}`) : "tmux is not installed";

const { tmux, keys, waitFor } = tmuxDriver(name, { waitMs: 30_000 });

const cand = (id: string, text: string, ppl: number): Candidate => ({
  id,
  generator: "local",
  sampleIndex: Number(id.split("#")[1]),
  text,
  raw: text,
  scores: [{ evaluator: "local", meanNll: Math.log(ppl), perplexity: ppl }],
  meanPerplexity: ppl,
  endOfThought: false,
});

test("replay of a saved session: recorded steps, then live from a sentence as a new session", { skip, timeout: 90_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-session-replay-"));
  const problem = builtinProblems().find((p) => p.id === "demo-1")!;
  const chain: Chain = {
    sentences: [
      {
        text: "Tom had three red apples.",
        author: "local",
        decision: "human-pick",
        candidates: [cand("local#0", "Tom had three red apples.", 4.5), cand("local#1", "The sun was warm.", 2.5)],
        evaluatorPick: "local#1",
        acceptedId: "local#0",
        at: "2026-01-01T00:00:00.000Z",
      },
      { text: " He bought four more.", author: "human", decision: "human-written", candidates: [], at: "2026-01-01T00:00:01.000Z" },
      {
        text: " So he has seven.",
        author: "local",
        decision: "evaluator",
        candidates: [cand("local#0", " So he has seven.", 1.5)],
        evaluatorPick: "local#0",
        acceptedId: "local#0",
        at: "2026-01-01T00:00:02.000Z",
      },
    ],
    finished: false,
  };
  const file = sessionPath(join(dir, "saved"), "recorded");
  await writeSession(
    file,
    toSessionFile({
      info: { id: "recorded", createdAt: "2026-01-01T00:00:00.000Z" },
      problem,
      roles: { generators: ["local"], evaluators: ["local"], targets: ["local"] },
      chain,
      targets: { answers: [], consistency: [] },
    }),
  );
  const before = readFileSync(file, "utf8");
  const cmd = `cd '${root}' && CONCORD_MODEL='${model}' CONCORD_SESSIONS_DIR='${dir}/sessions' CONCORD_CONFIG_DIR='${dir}/config' node test/concord-from-source.mjs replay '${file}'; echo "EXITED $?"; sleep 60`;
  tmux("new-session", "-d", "-s", name, "-x", "100", "-y", "30", cmd);
  try {
    let s = await waitFor("the first recorded step", (x) => /replay 0\/3 · L: live/.test(x) && /your call/.test(x));
    assert.match(s, /The sun was warm\./, "the candidate the evaluator preferred is shown");
    assert.match(s, /replay 1\/3: the record took local#0 \(human-pick\)/);
    keys("a");
    s = await waitFor("the recorded first sentence", (x) => /chain: 1 sentence /.test(x) && /replay 2\/3: the record took a sentence written by hand/.test(x));
    assert.match(s, /Tom had three red apples\./);
    keys("a");
    await waitFor("two sentences replayed", (x) => /chain: 2 sentences/.test(x) && /replay 2\/3 · L: live/.test(x));
    keys("L");
    s = await waitFor("a live step from the tiny model", (x) => /chain: 2 sentences/.test(x) && /step 3 your call/.test(x) && !/replay \d/.test(x), 60_000);
    keys("a");
    await waitFor("a live third sentence", (x) => /chain: 3 sentences/.test(x));
    keys("q");
    await waitFor("exit", (x) => /EXITED 0/.test(x), 15_000);
    assert.equal(readFileSync(file, "utf8"), before, "the replayed session file is unchanged");
    const live = readdirSync(join(dir, "sessions")).filter((f) => f.endsWith(".json"));
    assert.equal(live.length, 1, "going live made a new session");
    const saved = JSON.parse(readFileSync(join(dir, "sessions", live[0]), "utf8"));
    assert.deepEqual(
      saved.chain.sentences.slice(0, 2).map((x: { decision: string }) => x.decision),
      ["human-pick", "human-written"],
    );
    assert.equal(saved.chain.sentences.length, 3);
  } finally {
    spawnSync("tmux", ["kill-session", "-t", name]);
    rmSync(dir, { recursive: true, force: true });
  }
});
