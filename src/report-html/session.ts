// A session as a page, for teaching: the problem, the chain coloured by who wrote it, every race
// with its candidates, their scores and the decision, each candidate's tokens shaded by how
// surprising the evaluator found them, and the targets' answers and consistency as the chain grew.
import type { Candidate, ChainSentence } from "../core/chain.js";
import type { SessionFile } from "../state/sessions.js";
import { renderChart, schemeColor, type ChartSpec } from "./chart.js";
import { escapeHtml, fmtNum, renderFigure, renderPage, type Figure } from "./html.js";

const AUTHOR_COLORS = ["#2563eb", "#d97706", "#059669", "#db2777", "#7c3aed", "#0891b2", "#65a30d", "#dc2626"];
const HUMAN_COLOR = "#374151";
/** Short chains show every race open (a handout prints them); long ones open the first few. */
const OPEN_RACES = 20;

/** Shading classes for per-token negative log-likelihood: [0, 1), [1, 2), ... [7, ∞) nats. */
export const NLL_CLASSES = 8;
export const nllClass = (logprob: number) => Math.min(NLL_CLASSES - 1, Math.max(0, Math.floor(-logprob)));

const DECISIONS: Record<ChainSentence["decision"], string> = {
  evaluator: "the evaluator's pick",
  "human-pick": "picked by a person (override)",
  "human-edit": "edited by a person",
  "human-written": "written by a person",
  imported: "imported",
};

function authorColors(s: SessionFile): Map<string, string> {
  const names = [...new Set([...s.roles.generators, ...s.chain.sentences.map((x) => x.author)])].filter((n) => n !== "human");
  return new Map([...names.map((n, i) => [n, AUTHOR_COLORS[i % AUTHOR_COLORS.length]!] as const), ["human", HUMAN_COLOR]]);
}

/** The tokens to shade: the first evaluator's (why it scored so), else the generator's own. */
function shadingTokens(c: Candidate): { tokens: { token: string; logprob: number }[]; by: string } | undefined {
  const scored = c.scores.find((x) => x.tokens?.length);
  if (scored) return { tokens: scored.tokens!, by: scored.evaluator };
  if (c.tokens?.length) return { tokens: c.tokens, by: c.generator };
  return undefined;
}

function shadedText(c: Candidate): string {
  const t = shadingTokens(c);
  if (!t) return escapeHtml(c.text);
  return t.tokens
    .map((k) => `<span class="tok n${nllClass(k.logprob)}" title="${escapeHtml(`${k.token} · log p ${k.logprob.toFixed(2)}`)}">${escapeHtml(k.token)}</span>`)
    .join("");
}

function shadingStyle(): string {
  const rules: string[] = [];
  for (let i = 0; i < NLL_CLASSES; i++) {
    const bg = i === 0 ? "transparent" : schemeColor("oranges", 0.1 + (0.8 * i) / (NLL_CLASSES - 1));
    rules.push(`.n${i}{background:${bg}${i >= 5 ? ";color:#fff" : ""}}`);
  }
  return `<style>${rules.join("")}</style>`;
}

function legend(): string {
  const cells = Array.from(
    { length: NLL_CLASSES },
    (_, i) => `<span class="swatch n${i}" title="${i}${i === NLL_CLASSES - 1 ? "+" : `–${i + 1}`} nats"></span>`,
  ).join("");
  return `<div class="legend" role="note"><span>token surprise, −log p (nats):</span><span>0</span>${cells}<span>${NLL_CLASSES - 1}+</span><span>· darker = the scoring model found the token less likely; hover a token for its log-probability</span></div>`;
}

function raceHtml(s: ChainSentence, i: number, colors: Map<string, string>, open: boolean): string {
  const evals = [...new Set(s.candidates.flatMap((c) => c.scores.map((x) => x.evaluator)))];
  const rows = s.candidates
    .map((c) => {
      const marks = [
        c.id === s.evaluatorPick ? `<span class="pick" title="the evaluator's pick">★ pick</span>` : "",
        c.id === s.acceptedId ? `<span class="accepted" title="accepted into the chain">✓ accepted</span>` : "",
      ]
        .filter(Boolean)
        .join(" ");
      const scores = evals.map((e) => `<td>${fmtNum(c.scores.find((x) => x.evaluator === e)?.perplexity)}</td>`).join("");
      return `<tr><th scope="row"><span class="who" style="background:${colors.get(c.generator) ?? HUMAN_COLOR}">${escapeHtml(c.generator)}</span>${escapeHtml(c.id)}</th><td class="text-cell">${shadedText(c)}${c.error ? ` <em>(${escapeHtml(c.error)})</em>` : ""}</td>${scores}<td>${fmtNum(c.meanPerplexity)}</td><td>${marks}</td></tr>`;
    })
    .join("\n");
  const accepted = s.candidates.find((c) => c.id === s.acceptedId);
  const edited = s.decision === "human-edit" || s.decision === "human-written" || (accepted && accepted.text !== s.text);
  const excerpt = s.text.trim().length > 90 ? `${s.text.trim().slice(0, 89)}…` : s.text.trim();
  return `<details class="race" id="step-${i + 1}"${open ? " open" : ""}><summary>Step ${i + 1}: <span class="who" style="background:${colors.get(s.author) ?? HUMAN_COLOR}">${escapeHtml(s.author)}</span>“${escapeHtml(excerpt)}” · ${escapeHtml(DECISIONS[s.decision])} among ${s.candidates.length} candidate${s.candidates.length === 1 ? "" : "s"}</summary>
${
  s.candidates.length
    ? `<table><caption>Candidates for step ${i + 1}: perplexity under each evaluator (lower is more expected)</caption><thead><tr><th scope="col">candidate</th><th scope="col" class="text-cell">text</th>${evals.map((e) => `<th scope="col">ppl ${escapeHtml(e)}</th>`).join("")}<th scope="col">mean</th><th scope="col">decision</th></tr></thead><tbody>
${rows}
</tbody></table>`
    : ""
}
${edited ? `<p>Accepted text: ${escapeHtml(s.text)}</p>` : ""}
</details>`;
}

async function trajectoryFigure(s: SessionFile): Promise<Figure | undefined> {
  const snaps = s.targets.consistency;
  if (!snaps.length) return undefined;
  const data = snaps.flatMap((x) => [
    { length: x.chainLength, metric: "consistency", value: x.consistency, desc: `after ${x.chainLength} sentences: consistency ${fmtNum(x.consistency)}` },
    { length: x.chainLength, metric: "accuracy", value: x.accuracy, desc: `after ${x.chainLength} sentences: accuracy ${fmtNum(x.accuracy)}` },
  ]);
  const spec: ChartSpec = {
    width: 460,
    height: 220,
    data: { values: data },
    mark: { type: "line", point: true, interpolate: "step-after" },
    encoding: {
      x: { field: "length", type: "quantitative", title: "chain length (sentences)" },
      y: { field: "value", type: "quantitative", scale: { domain: [0, 1] }, title: null },
      color: { field: "metric", type: "nominal", scale: { domain: ["consistency", "accuracy"], range: ["#2563eb", "#16a34a"] }, title: null },
      description: { field: "desc" },
    },
  };
  return {
    id: "fig-trajectory",
    title: "Consistency and accuracy as the chain grew",
    note: "Each time the targets were asked: pairwise consistency of their answers and the share that were correct.",
    chart: await renderChart(spec),
    table: {
      caption: "Targets' agreement per chain length",
      head: ["chain length", "consistency", "accuracy", "consistent-correct", "consistent-wrong", "inconsistent"],
      rows: snaps.map((x) => [x.chainLength, x.consistency, x.accuracy, x.split.consistentCorrect, x.split.consistentWrong, x.split.inconsistent]),
    },
  };
}

async function answersFigure(s: SessionFile): Promise<Figure | undefined> {
  const answers = s.targets.answers;
  if (!answers.length) return undefined;
  const lengths = [...new Set(answers.map((a) => a.chainLength))].sort((a, b) => a - b);
  const targets = [...new Set([...s.roles.targets, ...answers.map((a) => a.target)])].filter((t) => answers.some((a) => a.target === t));
  const data = answers.map((a) => ({
    length: a.chainLength,
    target: a.target,
    grade: a.grade.correct ? "correct" : a.grade.answer === "" ? "no answer" : "wrong",
    answer: a.grade.answer,
    desc: `${a.target} after ${a.chainLength} sentences: ${a.grade.answer === "" ? "no answer" : `"${a.grade.answer.slice(0, 60)}"`} (${a.grade.correct ? "correct" : "wrong"})`,
  }));
  const spec: ChartSpec = {
    width: Math.max(240, Math.min(900, lengths.length * 22)),
    height: Math.max(60, targets.length * 28),
    data: { values: data },
    mark: { type: "rect", stroke: "#fff", strokeWidth: lengths.length > 60 ? 0 : 1 },
    encoding: {
      x: {
        field: "length",
        type: "ordinal",
        sort: lengths,
        title: "chain length (sentences)",
        axis: { labelAngle: 0, labelOverlap: "parity", labelPadding: 4 },
      },
      y: { field: "target", type: "nominal", sort: targets, title: null },
      color: { field: "grade", type: "nominal", scale: { domain: ["correct", "wrong", "no answer"], range: ["#16a34a", "#dc2626", "#d1d5db"] }, title: null },
      description: { field: "desc" },
    },
  };
  return {
    id: "fig-answers",
    title: "The targets' answers",
    note: `Reference answer: ${s.problem.reference.value}. Each cell is one target's answer given the chain of that length.`,
    chart: await renderChart(spec),
    table: {
      caption: "Answers per target and chain length",
      head: ["chain length", "target", "answer", "correct"],
      rowHeaders: 2,
      rows: answers.map((a) => [a.chainLength, a.target, a.grade.answer === "" ? "(none)" : a.grade.answer, a.grade.correct ? "yes" : "no"]),
    },
  };
}

async function perplexityFigure(s: SessionFile, colors: Map<string, string>): Promise<Figure | undefined> {
  const rows = s.chain.sentences.map((x, i) => {
    const c = x.candidates.find((k) => k.id === x.acceptedId);
    return { sentence: i + 1, author: x.author, decision: x.decision, perplexity: c?.meanPerplexity ?? null, candidates: x.candidates.length };
  });
  const data = rows
    .filter((r) => r.perplexity !== null)
    .map((r) => ({ ...r, desc: `sentence ${r.sentence} by ${r.author}: perplexity ${fmtNum(r.perplexity)}` }));
  if (!data.length) return undefined;
  const authors = [...new Set(data.map((d) => d.author))];
  const spec: ChartSpec = {
    width: Math.max(360, Math.min(900, rows.length * 6)),
    height: 220,
    data: { values: data },
    mark: { type: "point", filled: true, size: 36 },
    encoding: {
      x: { field: "sentence", type: "quantitative", title: "sentence" },
      y: { field: "perplexity", type: "quantitative", scale: { type: "log" }, title: "mean perplexity (log scale)" },
      color: { field: "author", type: "nominal", scale: { domain: authors, range: authors.map((a) => colors.get(a) ?? HUMAN_COLOR) }, title: "written by" },
      description: { field: "desc" },
    },
  };
  return {
    id: "fig-perplexity",
    title: "How expected each accepted sentence was",
    note: "Mean perplexity of the accepted candidate under the evaluators, by who wrote it.",
    chart: await renderChart(spec),
    table: {
      caption: "Accepted sentences",
      head: ["sentence", "written by", "decision", "mean perplexity", "candidates"],
      rows: rows.map((r) => [r.sentence, r.author, r.decision, r.perplexity, r.candidates]),
    },
  };
}

async function authorsFigure(s: SessionFile, colors: Map<string, string>): Promise<Figure | undefined> {
  const counts = new Map<string, number>();
  for (const x of s.chain.sentences) counts.set(x.author, (counts.get(x.author) ?? 0) + 1);
  if (!counts.size) return undefined;
  const n = s.chain.sentences.length;
  const data = [...counts].map(([author, sentences]) => ({ author, sentences, share: sentences / n, desc: `${author}: ${sentences} of ${n} sentences` }));
  const authors = data.map((d) => d.author);
  const spec: ChartSpec = {
    width: 360,
    height: Math.max(60, authors.length * 28),
    data: { values: data },
    mark: "bar",
    encoding: {
      y: { field: "author", type: "nominal", sort: authors, title: null },
      x: { field: "sentences", type: "quantitative", title: "sentences in the chain" },
      color: { field: "author", type: "nominal", scale: { domain: authors, range: authors.map((a) => colors.get(a) ?? HUMAN_COLOR) }, legend: null },
      description: { field: "desc" },
    },
  };
  return {
    id: "fig-authors",
    title: "Whose sentences made the chain",
    chart: await renderChart(spec),
    table: { caption: "Sentences per author", head: ["written by", "sentences", "share"], rows: data.map((d) => [d.author, d.sentences, d.share]) },
  };
}

export async function renderSessionHtml(s: SessionFile): Promise<string> {
  const colors = authorColors(s);
  const figures = (await Promise.all([trajectoryFigure(s), answersFigure(s), perplexityFigure(s, colors), authorsFigure(s, colors)])).filter(
    (f): f is Figure => !!f,
  );
  const prompt = s.problem.messages.map((m) => `<p><strong>${escapeHtml(m.role)}</strong></p><div class="problem">${escapeHtml(m.content)}</div>`).join("\n");
  const chain = s.chain.sentences
    .map((x, i) => {
      const human = x.decision !== "evaluator" && x.decision !== "imported";
      return `<li id="sentence-${i + 1}"${human ? ` class="human" title="${escapeHtml(DECISIONS[x.decision])}"` : ""}><span class="who" style="background:${colors.get(x.author) ?? HUMAN_COLOR}">${escapeHtml(x.author)}</span>${human ? "✎ " : ""}${escapeHtml(x.text)} <a href="#step-${i + 1}" aria-label="race for sentence ${i + 1}">race</a></li>`;
    })
    .join("\n");
  const body = `<h1>Session ${escapeHtml(s.id)}</h1>
<p class="meta">Problem ${escapeHtml(s.problem.source)}/${escapeHtml(s.problem.id)} · generators ${escapeHtml(s.roles.generators.join(", ") || "—")} · evaluators ${escapeHtml(s.roles.evaluators.join(", ") || "—")} · targets ${escapeHtml(s.roles.targets.join(", ") || "—")} · ${s.chain.sentences.length} sentences, chain ${s.chain.finished ? "finished" : "open"} · updated ${escapeHtml(s.updatedAt)}</p>
<nav aria-label="Sections"><ul><li><a href="#problem">Problem</a></li><li><a href="#chain">Chain</a></li><li><a href="#figures">Targets and scores</a></li><li><a href="#races">Every race</a></li></ul></nav>
<section id="problem" aria-labelledby="problem-h"><h2 id="problem-h">Problem</h2>
${prompt}
<details><summary>Reference answer</summary><p>${escapeHtml(s.problem.reference.value)} (${escapeHtml(s.problem.reference.kind)})</p></details>
</section>
<section id="chain" aria-labelledby="chain-h"><h2 id="chain-h">The chain</h2>
<div class="chain">${s.chain.sentences.length ? `<ol>\n${chain}\n</ol>` : `<p class="empty">No sentences yet.</p>`}</div>
<p class="meta">Each sentence is labelled with the model that wrote it; ✎ marks a person's choice, edit or sentence.</p>
</section>
<section id="figures" aria-labelledby="figures-h"><h2 id="figures-h">Targets and scores</h2>
${figures.length ? figures.map(renderFigure).join("\n") : `<p class="empty">No scores or target answers in this session.</p>`}
</section>
<section id="races" aria-labelledby="races-h"><h2 id="races-h">Every race</h2>
${legend()}
${s.chain.sentences.map((x, i) => raceHtml(x, i, colors, s.chain.sentences.length <= OPEN_RACES || i < 3)).join("\n")}
</section>`;
  return renderPage(`Concord session ${s.id}`, shadingStyle() + "\n" + body);
}
