// `concord ensemble` and `concord relay` as a user runs them, on the real embedded model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { outcomeText } from "../../src/commands/ensemble.js";
import { anyModelFile } from "../support/models.js";

const ROOT = new URL("../..", import.meta.url).pathname;
const BIN = join(ROOT, "test", "concord-from-source.mjs");
const env = {
  ...process.env,
  CONCORD_MODEL: anyModelFile(),
  CONCORD_MODELS: "",
  CONCORD_CONFIG_DIR: mkdtempSync(join(tmpdir(), "concord-cfg-")),
};
const concord = (args: string[], input?: string) => spawnSync(process.execPath, [BIN, ...args], { env, input, encoding: "utf8", timeout: 40_000 });

test("ensemble --auto --json builds the asked number of sentences, each with its competitors", () => {
  const r = concord(["ensemble", "--set", "builtin", "--problem", "demo-2", "--steps", "2", "--k", "2", "--auto", "--json", "--seed", "5"]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.problem, "demo-2");
  assert.equal(out.chain.sentences.length, 2);
  for (const s of out.chain.sentences) {
    assert.equal(s.decision, "evaluator");
    assert.equal(s.candidates.length, 2);
    assert.equal(s.acceptedId, s.evaluatorPick);
  }
  // Same seed, same chain.
  const again = JSON.parse(
    concord(["ensemble", "--set", "builtin", "--problem", "demo-2", "--steps", "2", "--k", "2", "--auto", "--json", "--seed", "5"]).stdout,
  );
  assert.equal(again.text, out.text);
});

test("ensemble without --auto says it picks for you; --decide takes decisions from stdin", () => {
  const plain = concord(["ensemble", "--set", "builtin", "--problem", "1", "--steps", "1", "--k", "2"]);
  assert.equal(plain.status, 0, plain.stderr);
  assert.match(plain.stderr, /accepting the evaluator's pick/);
  // Plain words: the evaluator picked local#N; why the chain ended.
  assert.match(plain.stdout, /^\[1\] local#\d \(picked by the evaluator, ppl \d+\.\d{3}\): /);
  assert.match(plain.stdout, /\n-- 1 sentence; stopped after 1 step, as asked \(--steps\)\n$/);

  const decidedText = concord(
    ["ensemble", "--set", "builtin", "--problem", "1", "--steps", "2", "--k", "2", "--decide"],
    "local#0\nwrite Tom counts the apples.\n",
  );
  assert.equal(decidedText.status, 0, decidedText.stderr);
  assert.match(decidedText.stdout, /^\[1\] local#0 \((picked by you|picked by the evaluator), ppl \d/);
  assert.match(decidedText.stdout, /^\[2\] \(written by you\): Tom counts the apples\.$/m);
  assert.doesNotMatch(decidedText.stdout, /, count$|human-|\(evaluator,/m);

  const decided = concord(
    ["ensemble", "--set", "builtin", "--problem", "1", "--steps", "3", "--k", "2", "--decide", "--json"],
    "local#1\nwrite Tom counts the apples.\n\n",
  );
  assert.equal(decided.status, 0, decided.stderr);
  const s = JSON.parse(decided.stdout).chain.sentences;
  assert.equal(s.length, 3);
  assert.equal(s[0].acceptedId, "local#1");
  assert.ok(["human-pick", "evaluator"].includes(s[0].decision));
  assert.equal(s[1].decision, "human-written");
  assert.equal(s[1].text.trim(), "Tom counts the apples.");
  assert.equal(s[2].acceptedId, s[2].evaluatorPick);
});

test("the outcome line names why the chain ended", () => {
  assert.equal(outcomeText("count", 2, 2, { maxSentences: 60 }), "stopped after 2 steps, as asked (--steps)");
  assert.equal(outcomeText("budget", "end", 60, { maxSentences: 60 }), "stopped: sentence budget reached (--max-sentences 60)");
  assert.equal(outcomeText("budget", "end", 12, { maxSentences: 60 }), "stopped: token budget reached");
  assert.equal(outcomeText("end-of-thought", "end", 9, { maxSentences: 60 }), "finished: end of thought");
});

test("ensemble: an unknown problem is one clear line", () => {
  const r = concord(["ensemble", "--set", "builtin", "--problem", "nope"]);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /^concord: builtin: no problem "nope"/);
  assert.equal(r.stderr.trim().split("\n").length, 1);
});

test("relay prints the initiator's chain with its cuts and each continuer's answer", () => {
  const r = concord(["relay", "--set", "builtin", "--problem", "demo-1", "--cuts", "early,2", "--max-tokens", "80", "--no-scores", "--json"]);
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout);
  assert.equal(out.runs.length, 2);
  assert.equal(out.runs[1].cut, 1);
  assert.equal(out.runs[1].handover, 2);
  assert.ok(out.initiator.sentences.length >= 3);
});

test("a relay run again is served by the response cache and says so", () => {
  const args = ["relay", "--set", "builtin", "--problem", "demo-2", "--cuts", "early", "--max-tokens", "60", "--no-scores", "--json"];
  const first = concord(args);
  assert.equal(first.status, 0, first.stderr);
  const again = concord(args);
  assert.equal(again.status, 0, again.stderr);
  assert.equal(again.stdout, first.stdout, "the same relay, from the cache");
  assert.match(again.stderr, /0 model calls; \d+ answers served from the response cache/);
});
