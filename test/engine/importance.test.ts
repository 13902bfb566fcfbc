// Sentence importance against ScriptedBackend targets whose answers depend on one sentence:
// that sentence (and only it) moves accuracy and the answer distribution; targets that read
// the chain alike agree; samples are saved and a rerun makes no model calls.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { importanceCalls, runImportance } from "../../src/engine/importance.js";
import type { ModelHandle } from "../../src/engine/models.js";
import type { Problem } from "../../src/core/types.js";
import { ScriptedBackend } from "../doubles/scripted-backend.js";

const problem: Problem = {
  id: "g1",
  source: "gsm8k",
  messages: [{ role: "user", content: "Tom has 3 apples and buys 4. How many?" }],
  reference: { kind: "number", value: "7" },
  meta: {},
};
const sentences = ["Tom has 3 apples.", "He buys 4 more.", "Three plus four is seven.", "That is all."];
const prefixOf = (req: { prompt: { kind: string; assistantPrefix?: string } }) => (req.prompt.kind === "chat" ? (req.prompt.assistantPrefix ?? "") : "");

/** Answers 7 when the chain it is given says "seven", else 8 (or, `flip`, the other way round). */
function target(name: string, flip = false): ModelHandle & { backend: ScriptedBackend } {
  return {
    name,
    thinkingFormat: "think-tags",
    backend: new ScriptedBackend({
      name,
      respond: (req) => {
        const p = prefixOf(req);
        if (!p.includes("</think>")) return " Let me see.</think>";
        return p.includes("seven") !== flip ? " The answer is 7." : " The answer is 8.";
      },
    }),
  };
}

describe("sentence importance", () => {
  test("only the sentence that carries the answer matters; targets agree; a rerun reads the samples back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-importance-"));
    const file = join(dir, "samples.jsonl");
    const a = target("a");
    const b = target("b");
    const r = await runImportance({ problem, sentences, targets: [a, b], samples: 3, file });
    assert.equal(r.made, 2 * 5 * 3);
    assert.equal(a.backend.streamCalls.length + b.backend.streamCalls.length, importanceCalls(4, 2, 3));
    const acc = r.rows.map((row) => row.byTarget.a!.accuracyChange!.value);
    assert.deepEqual(acc, [0, 0, 1, 0]);
    assert.deepEqual(r.rows[2]!.byTarget.b!.divergence, { value: 1, low: 1, high: 1 });
    assert.equal(r.rows[0]!.byTarget.a!.divergence!.value, 0);
    assert.equal(r.agreement.topOverlap, 1);
    // Every continuation was sampled with its own seed.
    assert.deepEqual([...new Set(a.backend.streamCalls.filter((q) => !prefixOf(q).includes("</think>")).map((q) => q.seed))].sort(), [1, 2, 3]);
    const again = [target("a"), target("b")];
    const r2 = await runImportance({ problem, sentences, targets: again, samples: 3, file });
    assert.equal(r2.made, 0);
    assert.equal(again[0]!.backend.streamCalls.length + again[1]!.backend.streamCalls.length, 0);
    assert.deepEqual(r2.rows, r.rows);
    // A torn last line: that one sample is made again.
    const text = readFileSync(file, "utf8").trimEnd();
    writeFileSync(file, text.slice(0, text.length - 10));
    const third = target("a");
    const r3 = await runImportance({ problem, sentences, targets: [third, target("b")], samples: 3, file });
    assert.equal(r3.made, 1);
  });

  test("targets that read the sentence oppositely disagree; a samples file of another chain is refused", async () => {
    const dir = mkdtempSync(join(tmpdir(), "concord-importance-"));
    const r = await runImportance({ problem, sentences, targets: [target("a"), target("z", true)], samples: 2 });
    assert.equal(r.rows[2]!.byTarget.a!.accuracyChange!.value, 1);
    assert.equal(r.rows[2]!.byTarget.z!.accuracyChange!.value, -1);
    // Both see sentence 3 move their answers the most (total variation), so they agree on where it matters.
    assert.equal(r.agreement.pairs[0]!.topOverlap, 1);
    const file = join(dir, "s.jsonl");
    await runImportance({ problem, sentences, targets: [target("a")], samples: 1, file });
    await assert.rejects(runImportance({ problem, sentences: sentences.slice(0, 3), targets: [target("a")], samples: 1, file }), /another chain/);
  });
});
