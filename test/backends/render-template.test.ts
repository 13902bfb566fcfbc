// A server whose chat template deletes a closed thinking block (vLLM serving an R1-distill
// model, the paper's NRR target): the probe finds it, and Concord renders the model's template
// itself and sends a raw completion, so the target sees its chain.
import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Template } from "@huggingface/jinja";
import { OpenAIBackend } from "../../src/backends/openai.js";
import { collect } from "../../src/backends/types.js";
import type { ModelProfile } from "../../src/config/profile.js";
import { thinkingPrefill } from "../../src/core/thinking.js";
import { medcalcMessages } from "../../src/problems/index.js";
import { startProtocolDouble, type ProtocolDouble } from "../doubles/protocol-double.js";
import { llamaServerMissing, SHARED, startLlamaServer } from "../e2e/llama-server.js";

const R1 = join(SHARED, "templates", "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja");
const skip = existsSync(R1) ? false : "needs ../shared/templates";

const doubles: ProtocolDouble[] = [];
after(async () => {
  await Promise.all(doubles.map((d) => d.close()));
});

const MESSAGES = medcalcMessages("A 60-year-old man.", "What is his score?");
const [SYSTEM, USER] = MESSAGES.map((m) => m.content);
const COT = " First, the score. Then the answer: 3.";

async function nrrOnVllm(profile: Partial<ModelProfile> = {}) {
  const double = await startProtocolDouble({ flavor: "vllm", model: "nvidia/Nemotron-Research-Reasoning-Qwen-1.5B", templateDeletesThinking: true });
  doubles.push(double);
  const p: ModelProfile = { name: "nrr", backend: "openai", baseURL: double.baseURL, model: double.model, flavor: "vllm", ...profile };
  return { double, backend: new OpenAIBackend(p, { maxRetries: 0, timeoutMs: 5000 }) };
}

describe("a template that deletes the prefill", { skip }, () => {
  test("the probe detects it and picks render_template when the profile names the template", async () => {
    const { backend } = await nrrOnVllm({ chatTemplate: R1 });
    const caps = (await backend.probe()) as { prefill: boolean; prefillMethod?: string; notes: string[] };
    assert.equal(caps.prefill, true);
    assert.equal(caps.prefillMethod, "render_template");
    assert.ok(
      caps.notes.some((n) => /prefill \(continue_final_message\): the chat template deletes or refuses a closed thinking block/.test(n)),
      caps.notes.join("\n"),
    );
  });

  test("a target's closed block goes out as a raw completion of the template Concord rendered, byte for byte", async () => {
    const { double, backend } = await nrrOnVllm({ chatTemplate: R1 });
    const r = await collect(
      backend.stream({ prompt: { kind: "chat", messages: MESSAGES, assistantPrefix: thinkingPrefill("think-tags", COT) }, maxTokens: 8, temperature: 0 }),
    );
    assert.ok(r.text.length > 0);
    const raw = double.requests.filter((q) => q.path === "/v1/completions");
    assert.equal(raw.length, 1, "refused once as continue_final_message, then sent raw");
    assert.equal(raw[0]!.body!.prompt, `${SYSTEM}<｜User｜>${USER}<｜Assistant｜><think>\n${COT}</think>`);
    // The template Concord rendered is the file's, as @huggingface/jinja renders it.
    const head = new Template(readFileSync(R1, "utf8")).render({ messages: MESSAGES, add_generation_prompt: true, bos_token: "", enable_thinking: true });
    assert.ok((raw[0]!.body!.prompt as string).startsWith(head));
  });

  test("without a copy of the template: the probe says so, and a target's request fails with one line saying what to set", async () => {
    const { backend } = await nrrOnVllm();
    const caps = (await backend.probe()) as { prefill: boolean; prefillMethod?: string; notes: string[] };
    assert.equal(caps.prefillMethod, "continue_final_message");
    assert.ok(
      caps.notes.some((n) => /open thinking blocks only; .*chatTemplate/.test(n)),
      caps.notes.join("\n"),
    );
    await assert.rejects(
      collect(backend.stream({ prompt: { kind: "chat", messages: MESSAGES, assistantPrefix: thinkingPrefill("think-tags", COT) }, maxTokens: 8 })),
      /set chatTemplate in the profile to the model's template file/,
    );
  });
});

describe("render_template on the real llama-server", { skip: llamaServerMissing() || skip }, () => {
  test("the template comes from /props; a closed block is continued after it", async () => {
    const server = await startLlamaServer({ template: "deepseek-ai-DeepSeek-R1-Distill-Qwen-32B.jinja", contextSize: 4096, slots: 1 });
    try {
      const props = (await (await fetch(`${server.url}/props`)).json()) as { chat_template?: string };
      assert.match(props.chat_template ?? "", /<｜Assistant｜>/);
      const p: ModelProfile = {
        name: "ls",
        backend: "openai",
        baseURL: server.baseURL,
        model: "auto",
        flavor: "llama-server",
        capabilities: {
          streaming: true,
          tokenLogprobs: true,
          promptScoring: true,
          prefill: true,
          reasoningField: null,
          notes: [],
          prefillMethod: "render_template",
        },
      };
      const backend = new OpenAIBackend(p, { maxRetries: 0, timeoutMs: 30_000 });
      const r = await collect(
        backend.stream({
          prompt: { kind: "chat", messages: MESSAGES, assistantPrefix: thinkingPrefill("think-tags", COT) },
          maxTokens: 6,
          temperature: 0,
          logprobs: true,
        }),
      );
      assert.equal(r.finishReason === "abort", false);
      // The continuation is the answer after the block, not a repeat of the chain.
      assert.ok(!r.text.includes("First, the score"), r.text);
      assert.ok((r.tokens ?? []).length > 0);
    } finally {
      await server.stop();
    }
  });
});
