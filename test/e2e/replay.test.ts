// End to end in a real terminal (tmux): a real ensemble trace of the paper (QwQ + DAPO, evaluator
// gpt-oss) imported with `concord import trace`, opened with `concord replay`: the recorded
// candidates stream in, the recorded winner is the evaluator's pick, and following the picks
// rebuilds the recorded chain.
import { test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { count } from "../../src/core/words.js";
import { raceLanes as lanes } from "../support/tmux.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const row0 = "../shared/data/genex/medcalc/ensemble_qwq_dapo_eval_oss/selected_distributions_row_0.json";
const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const skip = !hasTmux ? "tmux is not installed" : !existsSync(resolve(root, row0)) ? `trace missing: ${row0}` : false;

interface TraceStep {
  all_candidates: Record<string, string[]>;
  selected_candidate: string;
  selected_model_index: string;
}
const trace: TraceStep[] = skip ? [] : JSON.parse(readFileSync(resolve(root, row0), "utf8"));
const flat = (s: string) => s.replace(/\s+/g, " ").trim();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function session(name: string) {
  const tmux = (...args: string[]) => execFileSync("tmux", args, { encoding: "utf8" });
  const screen = () => tmux("capture-pane", "-p", "-t", name);
  return {
    screen,
    keys: (...k: string[]) => tmux("send-keys", "-t", name, ...k),
    start: (dir: string, recording: string) =>
      tmux(
        "new-session",
        "-d",
        "-s",
        name,
        "-x",
        "110",
        "-y",
        "30",
        `cd '${root}' && CONCORD_SESSIONS_DIR='${dir}/sessions' CONCORD_CONFIG_DIR='${dir}/config' node test/concord-from-source.mjs replay '${recording}'; echo "EXITED $?"; sleep 60`,
      ),
    async waitFor(what: string, pred: (s: string) => boolean, ms = 20_000, every = 100): Promise<string> {
      const end = Date.now() + ms;
      let s = "";
      while (Date.now() < end) {
        s = screen();
        if (pred(s)) return s;
        await sleep(every);
      }
      throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
    },
    kill: () => spawnSync("tmux", ["kill-session", "-t", name]),
  };
}

function importTrace(dir: string, extra: string[] = []): string {
  const out = join(dir, "row0.jsonl");
  const r = spawnSync(process.execPath, ["test/concord-from-source.mjs", "import", "trace", row0, "--out", out, ...extra], {
    cwd: root,
    env: { ...process.env },
    encoding: "utf8",
  });
  assert.equal(r.status, 0, r.stderr);
  return out;
}

const short = (model: string) => model.slice(model.lastIndexOf("/") + 1);

test(
  "replay of a real trace: the recorded candidates stream, the recorded pick is marked, following it rebuilds the chain",
  { skip, timeout: 60_000 },
  async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-replay-"));
    const t = session(`concord-replay-${process.pid}`);
    try {
      const recording = importTrace(dir);
      t.start(dir, recording);
      // Mid-stream: some lane is still growing ("…") while the step is generating.
      const streaming = await t.waitFor("candidates streaming in", (s) => /step 1 generating/.test(s) && lanes(s).some((l) => l.clipped), 20_000, 40);
      assert.match(streaming, /medcalc-bench\/\d+/, "the trace's MedCalc problem is found and shown");
      for (let step = 0; step < 3; step++) {
        const s = await t.waitFor(
          `step ${step + 1} decided by the recorded score`,
          (x) => new RegExp(`step ${step + 1} your call`).test(x) && lanes(x).some((l) => l.pick),
        );
        const ls = lanes(s);
        const recorded = trace[step];
        const expected = Object.entries(recorded.all_candidates).flatMap(([model, cands]) =>
          cands.map((c, i) => ({ id: `${short(model)}#${i}`, text: flat(c) })),
        );
        assert.deepEqual(
          ls.map((l) => l.id),
          expected.map((e) => e.id),
          "one lane per recorded candidate of QwQ and DAPO",
        );
        for (const e of expected) {
          const shown = flat(ls.find((l) => l.id === e.id)!.text.replace(/…$/, ""));
          assert.ok(e.text.startsWith(shown.slice(0, 40)), `${e.id} shows the recorded text: "${shown}" vs "${e.text}"`);
        }
        const pick = ls.find((l) => l.pick)!;
        assert.equal(pick.id.split("#")[0], short(recorded.selected_model_index), "the pick is the recorded winner's model");
        assert.ok(flat(recorded.selected_candidate).startsWith(flat(pick.text.replace(/…$/, "")).slice(0, 40)), "the pick is the recorded winner");
        t.keys("a");
        await t.waitFor(`${step + 1} sentences`, (x) => x.includes(`chain: ${count(step + 1, "sentence")}`));
      }
      const chainArea = flat(t.screen().split("── step")[0]);
      assert.ok(
        chainArea.includes(
          flat(
            trace
              .slice(0, 3)
              .map((x) => x.selected_candidate)
              .join(" "),
          ).slice(0, 60),
        ),
        "the chain holds the recorded sentences",
      );
      t.keys("q");
      await t.waitFor("exit", (x) => /EXITED 0/.test(x), 10_000);
    } finally {
      t.kill();
      rmSync(dir, { recursive: true, force: true });
    }
  },
);

test("auto-run to the end of a replayed trace reproduces the recorded chain exactly", { skip, timeout: 60_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), "concord-replay-"));
  const t = session(`concord-replay-all-${process.pid}`);
  try {
    // Same trace, streamed fast: 82 steps in a few seconds.
    const recording = importTrace(dir, ["--piece-ms", "2"]);
    t.start(dir, recording);
    await t.waitFor("the first step", (x) => /step 1 your call/.test(x));
    t.keys("G");
    await t.waitFor("the end of thought", (x) => x.includes(`chain: ${trace.length} sentences · finished`), 40_000, 250);
    t.keys("q");
    await t.waitFor("exit", (x) => /EXITED 0/.test(x), 10_000);
    const files = readdirSync(join(dir, "sessions"));
    assert.equal(files.length, 1);
    const saved = JSON.parse(readFileSync(join(dir, "sessions", files[0]), "utf8"));
    const sentences = saved.chain.sentences as Array<{ text: string; decision: string; author: string }>;
    assert.equal(sentences.length, trace.length);
    assert.ok(
      sentences.every((s) => s.decision === "evaluator"),
      "every sentence is the evaluator's recorded pick",
    );
    assert.deepEqual(
      sentences.map((s) => s.author),
      trace.map((x) => x.selected_model_index),
    );
    // Paper mode keeps the last chosen chunk whole, past the end marker, as the authors' loop did.
    const want = trace
      .map((x) => x.selected_candidate)
      .join(" ")
      .trim();
    const got = sentences.map((s) => s.text.trim()).join(" ");
    assert.equal(got, want, "the paper's chain, word for word");
    assert.ok(got.includes("</think>"), "the chain ends with the recorded end of thought");
    assert.equal(saved.chain.finished, true);
  } finally {
    t.kill();
    rmSync(dir, { recursive: true, force: true });
  }
});
