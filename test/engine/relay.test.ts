// Relay logic against ScriptedBackend test doubles, and the PRM client against a local HTTP
// server standing in for vLLM's pooling endpoint.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { compareAnswers, parseJudgeGrade, PrmScorer, runComparison, runRelay } from "../../src/engine/relay.js";
import { renderRelay } from "../../src/commands/relay.js";
import type { ModelHandle } from "../../src/engine/models.js";
import type { Problem } from "../../src/core/types.js";
import { ScriptedBackend, type ScriptedBackendOptions } from "../doubles/scripted-backend.js";

const problem: Problem = {
  id: "g1",
  source: "gsm8k",
  messages: [{ role: "user", content: "Tom has 3 apples and buys 4. How many?" }],
  reference: { kind: "number", value: "7" },
  meta: {},
};
const handle = (opts: ScriptedBackendOptions): ModelHandle & { backend: ScriptedBackend } => ({
  name: opts.name,
  backend: new ScriptedBackend(opts),
  thinkingFormat: "think-tags",
});
const prefixOf = (req: { prompt: { kind: string; assistantPrefix?: string } }) => (req.prompt.kind === "chat" ? (req.prompt.assistantPrefix ?? "") : "");

describe("runRelay", () => {
  test("continuers finish each cut; a departing continuer is located at the first sentence whose answer differs", async () => {
    const chain = " Tom starts with 3. He buys 4 more. Three plus four is seven. So he has 7.</think>";
    const init = handle({ name: "init", respond: (req) => (prefixOf(req).includes("</think>") ? " The answer is 7." : chain) });
    // The continuer goes wrong after the handover, and answers from whatever chain it is given:
    // 7 while the chain has no "eight", 8 once it does.
    const cont = handle({
      name: "cont",
      respond: (req) => {
        const p = prefixOf(req);
        if (p.includes("</think>")) return p.includes("eight") ? " The answer is 8." : " The answer is 7.";
        return " Wait, he also finds one. That makes eight.</think>";
      },
    });
    const r = await runRelay({ problem, initiator: init, continuers: [cont], cuts: ["early", 2], cutRule: "quantile", answerTokens: 10 });
    assert.deepEqual(
      r.initiator.sentences.map((s) => s.trim()),
      ["Tom starts with 3.", "He buys 4 more.", "Three plus four is seven.", "So he has 7."],
    );
    assert.equal(r.initiator.answer.grade.answer, "7");
    assert.equal(r.runs.length, 2);
    const byHand = r.runs.find((x) => x.cut === 2)!;
    assert.equal(byHand.handover, 3);
    assert.equal(byHand.sentences[3].trim(), "Wait, he also finds one.");
    assert.equal(byHand.answer.grade.answer, "8");
    assert.equal(byHand.agrees, false);
    assert.equal(byHand.comparison, "differs");
    // Still 7 after "Wait, he also finds one." (sentence 3); 8 after "That makes eight." (sentence 4).
    assert.deepEqual(byHand.departure, { sentence: 4, answer: "8" });
    // The continuer was prefilled with the initiator's first three sentences in an open block.
    const contReq = cont.backend.streamCalls.find((q) => prefixOf(q) === "<think> Tom starts with 3. He buys 4 more. Three plus four is seven.");
    assert.ok(contReq, "prefilled continuation request");
  });

  test("two missing answers are no departure: 'no answer from either' in the run, the JSON and the text", async () => {
    const init = handle({
      name: "init",
      respond: (req) => (prefixOf(req).includes("</think>") ? " I cannot say." : " Tom likes apples. He is happy. They are red. It is sunny.</think>"),
    });
    const cont = handle({ name: "cont", respond: (req) => (prefixOf(req).includes("</think>") ? " No idea." : " Birds sing.</think>") });
    const r = await runRelay({ problem, initiator: init, continuers: [cont], cuts: [1], answerTokens: 10 });
    const run = r.runs[0];
    assert.equal(r.initiator.answer.grade.answer, "");
    assert.equal(run.answer.grade.answer, "");
    assert.equal(run.comparison, "no-answer");
    assert.equal(run.agrees, false);
    assert.equal(run.departure, null);
    assert.equal(JSON.parse(JSON.stringify(r)).runs[0].comparison, "no-answer");
    const text = renderRelay(r);
    assert.match(text, /^continuer cont from after sentence 2: no answer, no answer from either$/m);
    assert.match(text, /^initiator init: 4 sentences, no answer$/m);
    assert.doesNotMatch(text, /differs|departs/);
  });

  test("the comparison of a relay saved before it was recorded", () => {
    const reply = (answer: string) => ({ target: "x", raw: answer, grade: { answer, correct: false } });
    assert.equal(runComparison({ agrees: false, answer: reply("") }, { answer: reply("") }), "no-answer");
    assert.equal(runComparison({ agrees: false, answer: reply("8") }, { answer: reply("7") }), "differs");
    assert.equal(runComparison({ agrees: true, answer: reply("7") }, { answer: reply("7") }), "agrees");
    assert.equal(compareAnswers(reply(""), reply("7")), "differs");
  });

  test("a manual cut outside the chain is refused with the valid range", async () => {
    const init = handle({ name: "init", respond: () => " One. Two. Three.</think>" });
    await assert.rejects(runRelay({ problem, initiator: init, continuers: [init], cuts: [5], locateDeparture: false }), /choose a sentence from 0 to 1/);
  });
});

test("judge replies are read as a 0-2 grade; anything else is no score", () => {
  assert.equal(parseJudgeGrade("2"), 1);
  assert.equal(parseJudgeGrade("<think>hmm 9</think> 1"), 0.5);
  assert.equal(parseJudgeGrade("Once upon a time"), null);
});

test("PrmScorer posts the steps with the step token and reads P(right) per step", async () => {
  let body: { model: string; input: string } | undefined;
  let auth: string | undefined;
  const server = createServer((req, res) => {
    let data = "";
    req.on("data", (d) => (data += d));
    req.on("end", () => {
      body = JSON.parse(data);
      auth = req.headers.authorization;
      res.setHeader("content-type", "application/json");
      res.end(
        JSON.stringify({
          data: [
            {
              data: [
                [0.1, 0.9],
                [0.8, 0.2],
              ],
            },
          ],
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  try {
    const port = (server.address() as AddressInfo).port;
    process.env.CONCORD_TEST_PRM_KEY = "k-123";
    const prm = new PrmScorer({ name: "prm", baseURL: `http://127.0.0.1:${port}/v1`, model: "Qwen/Qwen2.5-Math-PRM-7B", apiKeyEnv: "CONCORD_TEST_PRM_KEY" });
    assert.deepEqual(await prm.scoreSteps(problem, ["Step one.", "Step two."]), [0.9, 0.2]);
    assert.equal(body?.model, "Qwen/Qwen2.5-Math-PRM-7B");
    assert.match(body!.input, /Step one\.<extra_0>Step two\.<extra_0><\|im_end\|>/);
    assert.equal(auth, "Bearer k-123");
  } finally {
    delete process.env.CONCORD_TEST_PRM_KEY;
    server.close();
  }
});
