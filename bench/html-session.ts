// A real session of n sentences for the HTML benchmark: the engine's ChainBuilder with two
// generators and one evaluator, three targets asked every `every` sentences, all on the 1 MB
// stories260K model (embedded engine, seeded sampling), saved in the session schema.
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { builtinProblems } from "../src/problems/builtin.js";
import { ChainBuilder } from "../src/engine/ensemble.js";
import { openModels } from "../src/engine/models.js";
import { askTarget, snapshotOf } from "../src/engine/targets.js";
import { chainText } from "../src/core/chain.js";
import type { TargetAnswer, ConsistencySnapshot } from "../src/engine/events.js";
import type { SessionFile } from "../src/state/sessions.js";

export async function engineSession(modelPath: string, n: number, every = 10): Promise<SessionFile> {
  const dir = await mkdtemp(join(tmpdir(), "concord-html-session-"));
  const modelsFile = join(dir, "models.json");
  const local = (temperature: number, seed: number) => ({ backend: "local", model: "stories260K", path: modelPath, sampling: { temperature, seed } });
  await writeFile(
    modelsFile,
    JSON.stringify({
      models: { alpha: local(0.8, 1), beta: local(1.0, 2), judge: local(0, 3), t1: local(0, 4), t2: local(0.7, 5), t3: local(1.2, 6) },
      roles: { generators: ["alpha", "beta"], evaluators: ["judge"], targets: ["t1", "t2", "t3"] },
    }),
  );
  const models = openModels({ modelsFile, cache: false, download: false });
  try {
    const problem = builtinProblems()[0]!;
    const [alpha, beta, judge] = await Promise.all(["alpha", "beta", "judge"].map((m) => models.get(m)));
    const targets = await Promise.all(["t1", "t2", "t3"].map((m) => models.get(m)));
    const builder = new ChainBuilder({
      problem,
      generators: [alpha!, beta!],
      evaluators: [judge!],
      k: 2,
      auto: true,
      sampling: { seed: 7 },
      budget: { maxSentences: n, maxTokens: 1_000_000 },
    });
    const answers: TargetAnswer[] = [];
    const consistency: ConsistencySnapshot[] = [];
    const ask = async (length: number) => {
      const chain = builder.getChain();
      const cot = chainText({ sentences: chain.sentences.slice(0, length), finished: false });
      const round = await Promise.all(targets.map((t) => askTarget(t, problem, cot, { maxTokens: 24 })));
      const got = round.map((r) => ({ target: r.target, chainLength: length, raw: r.raw, grade: r.grade }));
      answers.push(...got);
      consistency.push(snapshotOf(length, got, targets.map((t) => t.name)));
    };
    await ask(0);
    // The tiny model's stories end (EOS) now and then: that sentence is taken back and the step
    // raced again, so the chain reaches n sentences.
    let tries = 0;
    while (builder.getChain().sentences.length < n && tries++ < n * 3) {
      const before = builder.getChain().sentences.length;
      const nextAsk = (Math.floor(before / every) + 1) * every;
      await builder.runSteps(Math.min(nextAsk, n) - before);
      if (builder.getChain().finished) {
        await builder.undo();
        continue;
      }
      const after = builder.getChain().sentences.length;
      if (after > before && (after % every === 0 || after === n)) await ask(after);
    }
    const chain = builder.getChain();
    const now = new Date(0).toISOString();
    return {
      schema: 1,
      id: `engine-${n}`,
      createdAt: now,
      updatedAt: now,
      problem,
      roles: { generators: ["alpha", "beta"], evaluators: ["judge"], targets: ["t1", "t2", "t3"] },
      chain,
      targets: { answers, consistency },
    };
  } finally {
    await models.close();
  }
}
