// The benchmark's session is a real engine session: races decided by the evaluator, targets
// asked every 10 sentences, and its page has one race per sentence and every token shaded.
import { test } from "node:test";
import assert from "node:assert/strict";
import { engineSession } from "../../bench/html-session.js";
import { renderSessionHtml } from "../../src/report-html/index.js";
import { parseSession } from "../../src/state/sessions.js";

test("a 30-sentence engine session is valid, asked at 0/10/20/30, and drawn whole", async () => {
  const s = await engineSession(30, 10);
  parseSession(JSON.parse(JSON.stringify(s)), "engine session");
  assert.equal(s.chain.sentences.length, 30);
  assert.deepEqual(
    s.targets.consistency.map((c) => c.chainLength),
    [0, 10, 20, 30],
  );
  assert.equal(s.targets.answers.length, 12);
  for (const x of s.chain.sentences) {
    assert.equal(x.decision, "evaluator");
    assert.equal(x.acceptedId, x.evaluatorPick);
    assert.equal(x.candidates.length, 4);
  }
  const html = await renderSessionHtml(s);
  assert.equal((html.match(/<details class="race"/g) ?? []).length, 30);
  const tokens = s.chain.sentences.reduce((n, x) => n + x.candidates.reduce((m, c) => m + (c.scores[0]?.tokens?.length ?? c.tokens?.length ?? 0), 0), 0);
  assert.ok(tokens > 0);
  assert.equal((html.match(/<span class="tok n\d"/g) ?? []).length, tokens);
  // The same seeds give the same session.
  const again = await engineSession(30, 10);
  assert.deepEqual(
    again.chain.sentences.map((x) => x.text),
    s.chain.sentences.map((x) => x.text),
  );
});
