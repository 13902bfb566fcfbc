// A session as a tree of races. A node is a place in the reasoning (the chain from the root to
// it) with every race run there: each candidate with its tokens and scores, and the evaluator's
// pick. The edge into a node is the sentence accepted there: which candidate, how it was decided
// and by whom. Undoing moves to the parent and keeps its races; accepting something else at a
// node starts a sibling branch; nothing is ever dropped. Pure data and pure functions: every
// change returns a new tree that shares the nodes it did not touch.
import { z } from "zod";
import type { Candidate, Chain, ChainSentence, Decision } from "./chain.js";
import { candidateSchema, decisionSchema } from "./schema.js";
import type { Grade } from "./types.js";

/** A target's answer for the chain ending at a node (the engine's TargetAnswer). */
export interface NodeAnswer {
  target: string;
  chainLength: number;
  raw: string;
  grade: Grade;
}

/** The targets' agreement for the chain ending at a node (the engine's ConsistencySnapshot). */
export interface NodeConsistency {
  chainLength: number;
  pairs: Record<string, boolean>;
  consistency: number;
  accuracy: number;
  split: { consistentCorrect: number; consistentWrong: number; inconsistent: number };
}

/** One race run at a node: its candidates as they were scored, and the evaluator's pick. */
export interface Race {
  candidates: Candidate[];
  evaluatorPick?: string;
}

/** The sentence on the edge into a node, and which of the parent's races it was taken from. */
export interface Edge {
  text: string;
  author: string;
  decision: Decision;
  acceptedId?: string;
  at: string;
  /** Index into the parent's races (none for a sentence written by hand with no race run). */
  race?: number;
}

export interface TreeNode {
  id: string;
  parent?: string;
  /** Sentences from the root to here. */
  depth: number;
  edge?: Edge;
  races: Race[];
  /** In the order they were made: the first is the oldest branch. */
  children: string[];
  /** The chain ends here (its last sentence reached the end of thought, or the budget). */
  finished: boolean;
  /** The latest answer of each target for the chain ending here. */
  answers: NodeAnswer[];
  consistency?: NodeConsistency;
}

export interface Tree {
  root: string;
  /** Where the person is: the chain on the Race is the path to this node. */
  current: string;
  nodes: ReadonlyMap<string, TreeNode>;
  /** Ids made so far (the next node is `n<seq>`). */
  seq: number;
}

const ROOT = "n0";

export function emptyTree(): Tree {
  return { root: ROOT, current: ROOT, seq: 1, nodes: new Map([[ROOT, { id: ROOT, depth: 0, races: [], children: [], finished: false, answers: [] }]]) };
}

export function nodeOf(t: Tree, id: string): TreeNode {
  const n = t.nodes.get(id);
  if (!n) throw new Error(`no node ${id} in the session tree`);
  return n;
}

function withNodes(t: Tree, changed: TreeNode[], extra: Partial<Tree> = {}): Tree {
  // A Map copies fast enough to stay immutable at thousands of nodes (an object spread does not).
  const nodes = new Map(t.nodes);
  for (const n of changed) nodes.set(n.id, n);
  return { ...t, ...extra, nodes };
}

/** Node ids from the root to `id`, both included. */
export function pathTo(t: Tree, id: string): string[] {
  const out: string[] = [];
  for (let n: TreeNode | undefined = nodeOf(t, id); n; n = n.parent === undefined ? undefined : t.nodes.get(n.parent)) out.push(n.id);
  return out.reverse();
}

/** The ancestor of `id` (or `id` itself) at a depth. */
export function ancestorAt(t: Tree, id: string, depth: number): string {
  let n = nodeOf(t, id);
  while (n.depth > depth && n.parent !== undefined) n = nodeOf(t, n.parent);
  return n.id;
}

export function isAncestor(t: Tree, ancestor: string, id: string): boolean {
  const a = nodeOf(t, ancestor);
  return ancestorAt(t, id, a.depth) === ancestor;
}

/** The race an edge was taken from, if any. */
export function raceOfEdge(t: Tree, id: string): Race | undefined {
  const n = nodeOf(t, id);
  if (n.parent === undefined || n.edge?.race === undefined) return undefined;
  return nodeOf(t, n.parent).races[n.edge.race];
}

/** The sentence on the edge into a node, as the chain holds it (with its race's candidates). */
export function sentenceAt(t: Tree, id: string): ChainSentence | undefined {
  const e = nodeOf(t, id).edge;
  if (!e) return undefined;
  const race = raceOfEdge(t, id);
  const s: ChainSentence = { text: e.text, author: e.author, decision: e.decision, candidates: race?.candidates ?? [], at: e.at };
  if (race?.evaluatorPick !== undefined) s.evaluatorPick = race.evaluatorPick;
  if (e.acceptedId !== undefined) s.acceptedId = e.acceptedId;
  return s;
}

/** The chain from the root to a node. */
export function chainAt(t: Tree, id: string): Chain {
  const sentences: ChainSentence[] = [];
  for (const p of pathTo(t, id).slice(1)) sentences.push(sentenceAt(t, p)!);
  return { sentences, finished: nodeOf(t, id).finished };
}

/** The chosen candidate's mean perplexity on the edge into a node. */
/** The targets' consistency at a node; none when no two targets gave an answer (no pair to agree). */
export function consistencyAt(t: Tree, id: string): number | undefined {
  const c = nodeOf(t, id).consistency;
  return c && Object.keys(c.pairs).length > 0 ? c.consistency : undefined;
}

export function perplexityAt(t: Tree, id: string): number | undefined {
  const e = nodeOf(t, id).edge;
  if (!e?.acceptedId) return undefined;
  return raceOfEdge(t, id)?.candidates.find((c) => c.id === e.acceptedId)?.meanPerplexity;
}

function sameRace(a: Race, b: Race): boolean {
  if (a.candidates.length !== b.candidates.length || a.evaluatorPick !== b.evaluatorPick) return false;
  return a.candidates.every((c, i) => {
    const d = b.candidates[i]!;
    return c.id === d.id && c.text === d.text && c.meanPerplexity === d.meanPerplexity && c.error === d.error;
  });
}

/** Keep a race at a node (a race already kept there is not kept twice). Returns its index. */
export function keepRace(t: Tree, id: string, race: Race): { tree: Tree; index: number } {
  const n = nodeOf(t, id);
  const at = n.races.findIndex((r) => sameRace(r, race));
  if (at >= 0) return { tree: t, index: at };
  return { tree: withNodes(t, [{ ...n, races: [...n.races, race] }]), index: n.races.length };
}

/** The latest race kept at a node. */
export function latestRace(t: Tree, id: string): Race | undefined {
  return nodeOf(t, id).races.at(-1);
}

/**
 * A sentence accepted at a node: it becomes (or finds) the child reached by that sentence, and
 * the person moves there. Its candidates are kept as one of the node's races. Taking the same
 * candidate again leads to the same child; anything else starts a branch.
 */
export function accept(t: Tree, at: string, sentence: ChainSentence, finished = false): Tree {
  let tree = t;
  let race: number | undefined;
  if (sentence.candidates.length) {
    const r: Race = { candidates: sentence.candidates };
    if (sentence.evaluatorPick !== undefined) r.evaluatorPick = sentence.evaluatorPick;
    ({ tree, index: race } = keepRace(tree, at, r));
  }
  const parent = nodeOf(tree, at);
  const same = parent.children.find((c) => {
    const e = nodeOf(tree, c).edge!;
    return e.text === sentence.text && e.decision === sentence.decision && e.acceptedId === sentence.acceptedId && e.author === sentence.author;
  });
  if (same) {
    const n = nodeOf(tree, same);
    const edge: Edge = { ...n.edge!, ...(race !== undefined ? { race } : {}) };
    return withNodes(tree, [{ ...n, edge, finished: n.finished || finished }], { current: same });
  }
  const id = `n${tree.seq}`;
  const edge: Edge = { text: sentence.text, author: sentence.author, decision: sentence.decision, at: sentence.at };
  if (sentence.acceptedId !== undefined) edge.acceptedId = sentence.acceptedId;
  if (race !== undefined) edge.race = race;
  const child: TreeNode = { id, parent: at, depth: parent.depth + 1, edge, races: [], children: [], finished, answers: [] };
  return withNodes(tree, [{ ...parent, children: [...parent.children, id] }, child], { current: id, seq: tree.seq + 1 });
}

export function moveTo(t: Tree, id: string): Tree {
  nodeOf(t, id);
  return id === t.current ? t : { ...t, current: id };
}

export function setFinished(t: Tree, id: string, finished: boolean): Tree {
  const n = nodeOf(t, id);
  return n.finished === finished ? t : withNodes(t, [{ ...n, finished }]);
}

/** A target's answer for the chain ending at a node: the latest per target is kept. */
export function withAnswer(t: Tree, id: string, answer: NodeAnswer): Tree {
  const n = nodeOf(t, id);
  return withNodes(t, [{ ...n, answers: [...n.answers.filter((a) => a.target !== answer.target), answer] }]);
}

export function withConsistency(t: Tree, id: string, snapshot: NodeConsistency): Tree {
  const n = nodeOf(t, id);
  return withNodes(t, [{ ...n, consistency: snapshot }]);
}

/** One branch, as the chain it was: the saved answers and consistency go to the nodes of their
 * lengths. Built in place (a chain of thousands of sentences opens at once). */
export function treeFromChain(chain: Chain, targets: { answers: NodeAnswer[]; consistency: NodeConsistency[] } = { answers: [], consistency: [] }): Tree {
  const t = emptyTree();
  const nodes = t.nodes as Map<string, TreeNode>;
  const path: TreeNode[] = [nodes.get(ROOT)!];
  chain.sentences.forEach((s, i) => {
    const parent = path[i]!;
    const edge: Edge = { text: s.text, author: s.author, decision: s.decision, at: s.at };
    if (s.acceptedId !== undefined) edge.acceptedId = s.acceptedId;
    if (s.candidates.length) {
      const race: Race = { candidates: s.candidates };
      if (s.evaluatorPick !== undefined) race.evaluatorPick = s.evaluatorPick;
      parent.races.push(race);
      edge.race = 0;
    }
    const id = `n${i + 1}`;
    const node: TreeNode = { id, parent: parent.id, depth: i + 1, edge, races: [], children: [], finished: false, answers: [] };
    parent.children.push(id);
    nodes.set(id, node);
    path.push(node);
  });
  const leaf = path.at(-1)!;
  leaf.finished = chain.finished && chain.sentences.length > 0;
  for (const a of targets.answers) {
    const n = path[a.chainLength];
    if (n) n.answers = [...n.answers.filter((x) => x.target !== a.target), a];
  }
  for (const c of targets.consistency) {
    const n = path[c.chainLength];
    if (n) n.consistency = c;
  }
  return { ...t, current: leaf.id, seq: chain.sentences.length + 1 };
}

/** The answers and consistency along the path to a node, as the targets panel shows a chain. */
export function targetsAlong(t: Tree, id: string): { answers: NodeAnswer[]; consistency: NodeConsistency[] } {
  const answers: NodeAnswer[] = [];
  const consistency: NodeConsistency[] = [];
  for (const p of pathTo(t, id)) {
    const n = nodeOf(t, p);
    answers.push(...n.answers);
    if (n.consistency) consistency.push(n.consistency);
  }
  return { answers, consistency };
}

// ---- moving about ----

export function parentOf(t: Tree, id: string): string {
  return nodeOf(t, id).parent ?? id;
}

/** The child on the way to where the person is, else the newest child; the node itself at a leaf. */
export function childOf(t: Tree, id: string): string {
  const n = nodeOf(t, id);
  const toward = n.children.find((c) => isAncestor(t, c, t.current));
  return toward ?? n.children.at(-1) ?? id;
}

/** The next (delta 1) or previous (-1) sibling; the node itself when there is none that way. */
export function siblingOf(t: Tree, id: string, delta: 1 | -1): string {
  const n = nodeOf(t, id);
  if (n.parent === undefined) return id;
  const sibs = nodeOf(t, n.parent).children;
  return sibs[sibs.indexOf(id) + delta] ?? id;
}

/** The start of the next branch (delta 1) or previous one (-1) in outline order: the nearest
 * sibling that way of the node or of one of its ancestors. */
export function nextBranch(t: Tree, id: string, delta: 1 | -1 = 1): string {
  for (let n = nodeOf(t, id); n.parent !== undefined; n = nodeOf(t, n.parent)) {
    const s = siblingOf(t, n.id, delta);
    if (s !== n.id) return s;
  }
  return id;
}

/** The nodes in outline order (each node before its children, older branches first). */
export function preorder(t: Tree, from = t.root): string[] {
  const out: string[] = [];
  const stack = [from];
  while (stack.length) {
    const id = stack.pop()!;
    out.push(id);
    const kids = nodeOf(t, id).children;
    for (let i = kids.length - 1; i >= 0; i--) stack.push(kids[i]!);
  }
  return out;
}

/** The leaves in outline order, once per tree (the tree view asks on every cursor move). */
const leafCache = new WeakMap<Tree["nodes"], string[]>();
function leavesOf(t: Tree): string[] {
  let leaves = leafCache.get(t.nodes);
  if (!leaves) {
    leaves = preorder(t).filter((id) => nodeOf(t, id).children.length === 0);
    leafCache.set(t.nodes, leaves);
  }
  return leaves;
}

/** Every branch, root to leaf, in outline order; a branch is named by its leaf's id. */
export function branches(t: Tree): Array<{ id: string; path: string[] }> {
  return preorder(t)
    .filter((id) => nodeOf(t, id).children.length === 0)
    .map((id) => ({ id, path: pathTo(t, id) }));
}

/** The leaf reached from a node by always taking `childOf` (the branch a node is seen on). */
export function branchOf(t: Tree, id: string): string {
  let at = id;
  for (let next = childOf(t, at); next !== at; next = childOf(t, at)) at = next;
  return at;
}

/** The deepest node two nodes share: where their branches part. */
export function divergence(t: Tree, a: string, b: string): string {
  const pa = pathTo(t, a);
  const pb = pathTo(t, b);
  let i = 0;
  while (i + 1 < pa.length && i + 1 < pb.length && pa[i + 1] === pb[i + 1]) i++;
  return pa[i]!;
}

/** Where the person is, in words the Race can show. */
export interface TreeLocation {
  depth: number;
  /** 1-based position of the branch among all branches, in outline order. */
  branch: number;
  branches: number;
  /** 1-based position of the current edge among its siblings, and how many there are. */
  sibling: number;
  siblings: number;
  /** Races kept at the current node, and branches leaving it. */
  races: number;
  children: number;
  nodes: number;
}

export function locate(t: Tree, id = t.current): TreeLocation {
  const n = nodeOf(t, id);
  const leaves = leavesOf(t);
  const sibs = n.parent === undefined ? [id] : nodeOf(t, n.parent).children;
  return {
    depth: n.depth,
    branch: leaves.indexOf(branchOf(t, id)) + 1,
    branches: leaves.length,
    sibling: sibs.indexOf(id) + 1,
    siblings: sibs.length,
    races: n.races.length,
    children: n.children.length,
    nodes: t.nodes.size,
  };
}

/** One row of the outline: a node, indented one step more below every fork. */
export interface OutlineRow {
  id: string;
  indent: number;
  depth: number;
  /** The node starts a branch (it has siblings). */
  fork: boolean;
  edge?: Edge;
  perplexity?: number;
  consistency?: number;
  onPath: boolean;
  current: boolean;
}

export function outline(t: Tree): OutlineRow[] {
  const onPath = new Set(pathTo(t, t.current));
  const indent = new Map<string, number>([[t.root, 0]]);
  const rows: OutlineRow[] = [];
  for (const id of preorder(t)) {
    const n = nodeOf(t, id);
    const parent = n.parent === undefined ? undefined : nodeOf(t, n.parent);
    const fork = !!parent && parent.children.length > 1;
    const level = parent ? indent.get(parent.id)! + (fork ? 1 : 0) : 0;
    indent.set(id, level);
    const row: OutlineRow = { id, indent: level, depth: n.depth, fork, onPath: onPath.has(id), current: id === t.current };
    if (n.edge) row.edge = n.edge;
    const ppl = perplexityAt(t, id);
    if (ppl !== undefined) row.perplexity = ppl;
    const cons = consistencyAt(t, id);
    if (cons !== undefined) row.consistency = cons;
    rows.push(row);
  }
  return rows;
}

/** Two branches side by side from where they part: sentences, consistency and final answers. */
export interface BranchComparison {
  divergence: string;
  /** Sentences before the branches part. */
  shared: number;
  sides: Array<{ id: string; sentences: string[]; consistency: Array<number | undefined>; answers: NodeAnswer[] }>;
}

export function compareBranches(t: Tree, a: string, b: string): BranchComparison {
  const at = divergence(t, a, b);
  const shared = nodeOf(t, at).depth;
  const side = (leaf: string) => {
    const after = pathTo(t, leaf).slice(shared + 1);
    return {
      id: leaf,
      sentences: after.map((p) => nodeOf(t, p).edge!.text),
      consistency: after.map((p) => consistencyAt(t, p)),
      answers: nodeOf(t, leaf).answers,
    };
  };
  return { divergence: at, shared, sides: [side(a), side(b)] };
}

// ---- on disk ----

const edgeSchema = z.object({
  text: z.string(),
  author: z.string().min(1),
  decision: decisionSchema,
  acceptedId: z.string().optional(),
  at: z.string(),
  race: z.number().int().min(0).optional(),
});
const gradeSchema = z.object({ answer: z.string(), correct: z.boolean(), error: z.string().optional() });
const answerSchema = z.object({ target: z.string(), chainLength: z.number().int().min(0), raw: z.string(), grade: gradeSchema });
const consistencySchema = z.object({
  chainLength: z.number().int().min(0),
  pairs: z.record(z.string(), z.boolean()),
  consistency: z.number(),
  accuracy: z.number(),
  split: z.object({ consistentCorrect: z.number(), consistentWrong: z.number(), inconsistent: z.number() }),
});
export const raceSchema = z.object({ candidates: z.array(candidateSchema), evaluatorPick: z.string().optional() });
export const fileNodeSchema = z.object({
  id: z.string().min(1),
  parent: z.string().optional(),
  edge: edgeSchema.optional(),
  races: z.array(raceSchema),
  finished: z.boolean().optional(),
  answers: z.array(answerSchema).optional(),
  consistency: consistencySchema.optional(),
});
/** The tree as a session file holds it: nodes in outline order, each after its parent. */
export const treeFileSchema = z.object({ current: z.string().min(1), nodes: z.array(fileNodeSchema).min(1) });
export type TreeFile = z.infer<typeof treeFileSchema>;

export type FileNode = TreeFile["nodes"][number];

/** One node as the file holds it (children are implied by the order). */
export function nodeToFile(n: TreeNode): FileNode {
  const f: FileNode = { id: n.id, races: n.races };
  if (n.parent !== undefined) f.parent = n.parent;
  if (n.edge) f.edge = n.edge;
  if (n.finished) f.finished = true;
  if (n.answers.length) f.answers = n.answers;
  if (n.consistency) f.consistency = n.consistency;
  return f;
}

export function treeToFile(t: Tree): TreeFile {
  return { current: t.current, nodes: preorder(t).map((id) => nodeToFile(nodeOf(t, id))) };
}

/** A tree from its file form; what does not hold together (unknown parent, second root, an edge
 * naming a race that is not there) is an Error naming the node. */
export function treeFromFile(f: TreeFile): Tree {
  const nodes = new Map<string, TreeNode>();
  let root: string | undefined;
  let seq = 1;
  for (const fn of f.nodes) {
    if (nodes.has(fn.id)) throw new Error(`tree node ${fn.id} appears twice`);
    const m = /^n(\d+)$/.exec(fn.id);
    if (m) seq = Math.max(seq, Number(m[1]) + 1);
    const node: TreeNode = { id: fn.id, depth: 0, races: fn.races, children: [], finished: fn.finished ?? false, answers: fn.answers ?? [] };
    if (fn.consistency) node.consistency = fn.consistency;
    if (fn.parent === undefined) {
      if (root !== undefined) throw new Error(`tree node ${fn.id} is a second root`);
      if (fn.edge) throw new Error(`tree root ${fn.id} has a sentence`);
      root = fn.id;
    } else {
      const p = nodes.get(fn.parent);
      if (!p) throw new Error(`tree node ${fn.id}: parent ${fn.parent} is not before it`);
      if (!fn.edge) throw new Error(`tree node ${fn.id} has no sentence`);
      if (fn.edge.race !== undefined && !p.races[fn.edge.race]) throw new Error(`tree node ${fn.id}: race ${fn.edge.race} is not kept at ${fn.parent}`);
      node.parent = fn.parent;
      node.depth = p.depth + 1;
      node.edge = fn.edge;
      p.children.push(fn.id);
    }
    nodes.set(fn.id, node);
  }
  if (root === undefined) throw new Error("the tree has no root");
  if (!nodes.has(f.current)) throw new Error(`the tree's current node ${f.current} is not in it`);
  return { root, current: f.current, nodes, seq };
}
