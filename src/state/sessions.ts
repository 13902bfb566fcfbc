// A session is one JSON file: the problem, the roles, the tree of every race run (core/tree.ts),
// the chain on view with its provenance, and the targets' answers. It is rewritten atomically (temp file, fsync, rename) after every change,
// and validated on load, so a crash or a bad file never costs a good one.
//
// A large session (version 3) keeps its races, which are most of its bytes and never change once
// run, in an append-only file beside it (`<name>.races.jsonl`, one race's candidates a line). A
// save appends the new races (whole or cut back, then fsync) and only then replaces the session
// file, which names each race by offset, length and hash: a crash at any point leaves the
// previous session file pointing at bytes that are all there.
//
// Where: an explicit directory (--sessions-dir), else $CONCORD_SESSIONS_DIR, else the
// `sessionsDir` setting, else `./sessions` under the current directory. The working
// directory is the default because sessions belong to the experiment folder they came from,
// next to its results, and are meant to be shared or committed with it.
import { createHash } from "node:crypto";
import { readFile, readdir, stat } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { z } from "zod";
import { chainText, type Candidate, type Chain } from "../core/chain.js";
import { candidateSchema, chainSchema } from "../core/schema.js";
import {
  branches,
  chainAt,
  fileNodeSchema,
  nodeToFile,
  outline,
  preorder,
  raceSchema,
  treeFileSchema,
  treeFromChain,
  treeFromFile,
  treeToFile,
  type Tree,
  type TreeNode,
} from "../core/tree.js";
import type { Problem } from "../core/types.js";
import type { ConsistencySnapshot, TargetAnswer } from "../engine/events.js";
import { UserError } from "../errors.js";
import { count } from "../core/words.js";
import { lockFile, type Lock } from "../fsutil/lock.js";
import { appendVerifiedAt, ensureDir, removeStaleTemps, writeFileVerified } from "../fsutil/write.js";
import type { Roles, SessionSnapshot } from "./store.js";

/** Version 2 holds the tree; version 1 (a chain only) still loads, as one branch, and is
 * rewritten as version 2 only when it is saved. Version 3 is version 2 with its races in the
 * races file beside it; a session is written so once its races pass RACES_FILE_FROM bytes. */
export const SESSION_SCHEMA = 2;
export const SESSION_SCHEMA_RACES_FILE = 3;
const SCHEMAS_READ = [1, 2, 3];
/** Below this a session stays one self-contained file (easy to share, readable by version 2). */
export const RACES_FILE_FROM = 1 << 20;

const problemSchema = z.object({
  id: z.string().min(1),
  source: z.string().min(1),
  messages: z.array(z.object({ role: z.enum(["system", "user", "assistant"]), content: z.string() })).min(1),
  reference: z.object({
    kind: z.enum(["integer", "decimal", "date", "weeks_days", "number", "exact", "free"]),
    value: z.string(),
    lower: z.number().optional(),
    upper: z.number().optional(),
    alternatives: z.array(z.string()).optional(),
  }),
  meta: z.record(z.string(), z.union([z.string(), z.number(), z.null()])),
});
const gradeSchema = z.object({ answer: z.string(), correct: z.boolean(), error: z.string().optional() });
const answerSchema = z.object({ target: z.string(), chainLength: z.number().int().min(0), raw: z.string(), grade: gradeSchema });
const snapshotSchema = z.object({
  chainLength: z.number().int().min(0),
  pairs: z.record(z.string(), z.boolean()),
  consistency: z.number(),
  accuracy: z.number(),
  split: z.object({ consistentCorrect: z.number(), consistentWrong: z.number(), inconsistent: z.number() }),
});
const rolesSchema = z.object({
  generators: z.array(z.string()),
  evaluators: z.array(z.string()),
  targets: z.array(z.string()),
  models: z.record(z.string(), z.string()).optional(),
});

export const sessionSchemaV1 = z.object({
  schema: z.literal(1),
  id: z.string().min(1),
  createdAt: z.string(),
  updatedAt: z.string(),
  problem: problemSchema,
  roles: rolesSchema,
  chain: chainSchema,
  targets: z.object({ answers: z.array(answerSchema), consistency: z.array(snapshotSchema) }),
});
/** Version 2: the tree, and the chain of its current node kept for readers of a chain alone. */
export const sessionSchema = sessionSchemaV1.extend({ schema: z.literal(SESSION_SCHEMA), tree: treeFileSchema });

/** Where one race's candidates are in the races file: byte offset, length, and the first 16 hex
 * digits of their SHA-256. */
const storedRaceSchema = z.object({
  stored: z.tuple([z.number().int().min(0), z.number().int().min(2), z.string().regex(/^[0-9a-f]{16}$/)]),
  evaluatorPick: z.string().optional(),
});
/** Version 3: as version 2, its chain without candidates and its races in the races file. */
export const sessionSchemaV3 = sessionSchemaV1.extend({
  schema: z.literal(SESSION_SCHEMA_RACES_FILE),
  racesFile: z.string().regex(/^[^/\\]+\.races\.jsonl$/, "a file name ending in .races.jsonl, in the session's folder"),
  tree: z.object({
    current: z.string().min(1),
    nodes: z.array(fileNodeSchema.extend({ races: z.array(z.union([raceSchema, storedRaceSchema])) })).min(1),
  }),
});

export interface SessionFile {
  /** The version the file was read in (a session made in memory is version 2). */
  schema: 1 | typeof SESSION_SCHEMA | typeof SESSION_SCHEMA_RACES_FILE;
  id: string;
  createdAt: string;
  updatedAt: string;
  problem: Problem;
  roles: Roles;
  /** The branch on view: the path to the tree's current node. */
  chain: Chain;
  /** Every answer, in arrival order. */
  targets: { answers: TargetAnswer[]; consistency: ConsistencySnapshot[] };
  /** Every race run; absent, the chain is the one branch. */
  tree?: Tree;
}

/** A session's tree: the one it holds, or its chain as one branch. */
export function sessionTree(s: Pick<SessionFile, "chain" | "targets" | "tree">): Tree {
  return s.tree ?? treeFromChain(s.chain, s.targets);
}

export interface SessionsDirChoice {
  dir?: string;
  setting?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function resolveSessionsDir(c: SessionsDirChoice = {}): string {
  const env = c.env ?? process.env;
  const cwd = c.cwd ?? process.cwd();
  return resolve(cwd, c.dir || env.CONCORD_SESSIONS_DIR || c.setting || "sessions");
}

export function sessionPath(dir: string, id: string): string {
  return join(dir, `${id.replace(/[^A-Za-z0-9._-]+/g, "_")}.json`);
}

export function toSessionFile(s: SessionSnapshot, now = new Date()): SessionFile {
  return {
    schema: SESSION_SCHEMA,
    id: s.info.id,
    createdAt: s.info.createdAt,
    updatedAt: now.toISOString(),
    problem: s.problem,
    roles: s.roles,
    chain: s.chain,
    targets: s.targets,
    tree: s.tree ?? treeFromChain(s.chain, s.targets),
  };
}

function lineCol(text: string, pos: number): string {
  const before = text.slice(0, pos);
  const line = before.split("\n").length;
  const col = pos - before.lastIndexOf("\n");
  return `line ${line} column ${col}`;
}

/**
 * Where JSON.parse stopped. Most messages give the position; "Unexpected token" gives up to 10
 * characters either side of it instead (V8), which are found in the text.
 */
export function jsonErrorPosition(msg: string, text: string): number | undefined {
  const m = /position (\d+)/.exec(msg);
  if (m) return Number(m[1]);
  const t = /^Unexpected token '([\s\S])', (\.\.\.)?"([\s\S]*)"(\.\.\.)? is not valid JSON$/.exec(msg);
  if (!t) return undefined;
  const [, token, before, context, after] = t;
  if (before) {
    const i = text.indexOf(context);
    return i < 0 ? undefined : i + 10;
  }
  if (after) return Math.max(0, context.length - 10);
  const i = text.indexOf(token);
  return i < 0 ? undefined : i;
}

/** Validate parsed data; the error names the file and the first bad field (or tree node). */
export function parseSession(data: unknown, file: string): SessionFile {
  const schema = (data as { schema?: unknown } | null)?.schema;
  if (data && typeof data === "object" && !SCHEMAS_READ.includes(schema as number))
    throw new UserError(
      `${file}: schema ${JSON.stringify(schema ?? null)} is not a Concord session (expected schema ${SCHEMAS_READ.slice(0, -1).join(", ")} or ${SCHEMAS_READ.at(-1)})`,
    );
  if (schema === SESSION_SCHEMA_RACES_FILE) throw new UserError(`${file}: a session with a races file is read by loadSession`);
  const r = (schema === 1 ? sessionSchemaV1 : sessionSchema).safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(`${file}: field ${issue.path.join(".") || "(top)"}: ${issue.message}`);
  }
  if (r.data.schema === 1) {
    const v1 = r.data as Omit<SessionFile, "tree">;
    return { ...v1, tree: treeFromChain(v1.chain, v1.targets) };
  }
  const { tree: treeFile, ...rest } = r.data as Omit<SessionFile, "tree"> & { tree: z.infer<typeof treeFileSchema> };
  let tree: Tree;
  try {
    tree = treeFromFile(treeFile);
  } catch (err) {
    throw new UserError(`${file}: ${(err as Error).message}`);
  }
  // Validated just now: saving them again needs no second check.
  for (const n of tree.nodes.values()) for (const r of n.races) candidatesChecked.add(r.candidates);
  // The tree is what the session is: the chain on view is its current branch.
  return { ...rest, chain: chainAt(tree, tree.current), tree };
}

/** The session as its file holds it (version 2). */
export function sessionFileData(
  session: SessionFile,
): Omit<SessionFile, "tree" | "schema"> & { schema: typeof SESSION_SCHEMA; tree: z.infer<typeof treeFileSchema> } {
  return { ...session, schema: SESSION_SCHEMA, tree: treeToFile(sessionTree(session)) };
}

/** Read and validate a session file. Errors are one line naming the file and the place. */
export async function loadSession(file: string): Promise<SessionFile> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new UserError(`${file}: cannot read session (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    const msg = (err as Error).message;
    const at = jsonErrorPosition(msg, text);
    const pos = at ?? text.length;
    const why = /end of JSON/i.test(msg) || at === undefined || pos >= text.trimEnd().length ? "file ends early (truncated?)" : "not valid JSON";
    throw new UserError(`${file}: ${why} at ${lineCol(text, pos)}`);
  }
  if ((data as { schema?: unknown } | null)?.schema === SESSION_SCHEMA_RACES_FILE) return parseSessionV3(data, file);
  return parseSession(data, file);
}

/** The races file of a session file: `s.json` keeps its races in `s.races.jsonl`. */
export function racesFileOf(file: string): string {
  return join(dirname(file), `${basename(file).replace(/\.json$/i, "")}.races.jsonl`);
}

const raceHash = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("hex").slice(0, 16);

interface StoredRace {
  racesFile: string;
  at: number;
  bytes: number;
  hash: string;
}
// Where each candidate list already is in a races file (lists never change: see candidatesChecked).
const storedRaces = new WeakMap<readonly Candidate[], StoredRace>();

async function parseSessionV3(data: unknown, file: string): Promise<SessionFile> {
  const r = sessionSchemaV3.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(`${file}: field ${issue.path.join(".") || "(top)"}: ${issue.message}`);
  }
  const racesFile = join(dirname(file), r.data.racesFile);
  let races: Buffer;
  try {
    races = await readFile(racesFile);
  } catch (err) {
    throw new UserError(`${file}: cannot read its races file ${racesFile} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const nodes = r.data.tree.nodes.map((n) => ({
    ...n,
    races: n.races.map((race, k) => {
      if (!("stored" in race)) return race;
      const [at, bytes, hash] = race.stored;
      const where = `${file}: tree node ${n.id} race ${k}`;
      if (at + bytes > races.length)
        throw new UserError(`${where}: bytes ${at}-${at + bytes} are past the end of ${racesFile} (${races.length} bytes; cut short?)`);
      const slice = races.subarray(at, at + bytes);
      if (raceHash(slice) !== hash) throw new UserError(`${where}: the bytes at ${at} in ${racesFile} are not the ones saved (hash differs)`);
      let parsed: unknown;
      try {
        parsed = JSON.parse(slice.toString("utf8"));
      } catch {
        throw new UserError(`${where}: not valid JSON at byte ${at} of ${racesFile}`);
      }
      const c = candidateListSchema.safeParse(parsed);
      if (!c.success) {
        const issue = c.error.issues[0];
        throw new UserError(`${where}: field ${["candidates", ...issue.path].join(".")}: ${issue.message}`);
      }
      storedRaces.set(c.data, { racesFile, at, bytes, hash });
      return { candidates: c.data, ...(race.evaluatorPick !== undefined ? { evaluatorPick: race.evaluatorPick } : {}) };
    }),
  }));
  const { racesFile: _name, tree: _tree, ...rest } = r.data;
  void _name;
  void _tree;
  let tree: Tree;
  try {
    tree = treeFromFile({ current: r.data.tree.current, nodes });
  } catch (err) {
    throw new UserError(`${file}: ${(err as Error).message}`);
  }
  for (const n of tree.nodes.values()) for (const x of n.races) candidatesChecked.add(x.candidates);
  return { ...rest, chain: chainAt(tree, tree.current), tree };
}

// Candidates are most of a session (every race's, with per-token log-probs) and never change
// once made: each list is validated once. The store never edits a candidate list in place (a new
// race is a new list).
const candidatesChecked = new WeakSet<readonly Candidate[]>();
const candidateListSchema = z.array(candidateSchema);

function candidatesText(list: readonly Candidate[], file: string, where: string): string {
  if (!candidatesChecked.has(list)) {
    const r = candidateListSchema.safeParse(list);
    if (!r.success) {
      const issue = r.error.issues[0];
      throw new UserError(`${file}: field ${[where, ...issue.path].join(".")}: ${issue.message}`);
    }
    candidatesChecked.add(list);
  }
  return JSON.stringify(list);
}

/** A JSON object with `key` first, holding `value` (already JSON), then the rest of `obj`. */
function withFirst(key: string, value: string, obj: object): string {
  const rest = JSON.stringify(obj);
  return `{${JSON.stringify(key)}:${value}${rest === "{}" ? "}" : "," + rest.slice(1)}`;
}

// A node changes only by being replaced (core/tree.ts): its bytes, validated, are kept, so a save
// after one more sentence encodes two new nodes and copies the others.
const nodeBytes = new WeakMap<TreeNode, Uint8Array>();

function nodeBuffer(n: TreeNode, file: string): Uint8Array {
  const kept = nodeBytes.get(n);
  if (kept) return kept;
  const f = nodeToFile(n);
  const r = fileNodeSchema.safeParse({ ...f, races: f.races.map((x) => ({ ...x, candidates: [] })) });
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(`${file}: field ${["tree", "node " + n.id, ...issue.path].join(".")}: ${issue.message}`);
  }
  const { races, ...rest } = f;
  const raceTexts = races.map(({ candidates, ...x }, k) =>
    withFirst("candidates", candidatesText(candidates, file, `tree.node ${n.id}.races.${k}.candidates`), x),
  );
  const bytes = Buffer.from(withFirst("races", `[${raceTexts.join(",")}]`, rest));
  nodeBytes.set(n, bytes);
  return bytes;
}

/** The session around the tree, validated by the schema (its chain's candidate lists are checked
 * on their own), and the tree's shape checked by rebuilding it. */
function checkSession(session: SessionFile, file: string): { tree: Tree; order: string[] } {
  const { tree: _tree, ...plain } = session;
  void _tree;
  const lightChain = { ...session.chain, sentences: session.chain.sentences.map((x) => ({ ...x, candidates: [] })) };
  const r = sessionSchemaV1.safeParse({ ...plain, schema: 1, chain: lightChain });
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(`${file}: field ${issue.path.join(".") || "(top)"}: ${issue.message}`);
  }
  session.chain.sentences.forEach(
    ({ candidates }, i) => candidatesChecked.has(candidates) || candidatesText(candidates, file, `chain.sentences.${i}.candidates`),
  );
  const tree = sessionTree(session);
  const order = preorder(tree);
  try {
    // The shape: parents before children, races named by edges kept, the current node there.
    treeFromFile({
      current: tree.current,
      nodes: order.map((id) => {
        const n = tree.nodes.get(id)!;
        return { id, races: n.races, ...(n.parent !== undefined ? { parent: n.parent } : {}), ...(n.edge ? { edge: n.edge } : {}) };
      }),
    });
  } catch (err) {
    throw new UserError(`${file}: ${(err as Error).message}`);
  }
  return { tree, order };
}

/** The file's text around the tree's nodes (already JSON, in outline order). */
function sessionText(
  session: SessionFile,
  tree: Tree,
  nodes: Uint8Array[],
  extra: object,
  sentenceCandidates: (list: readonly Candidate[], i: number) => string,
): Uint8Array {
  const { tree: _tree, chain, ...rest } = session;
  void _tree;
  const sentences = chain.sentences.map(({ candidates, ...x }, i) => withFirst("candidates", sentenceCandidates(candidates, i), x));
  const head = JSON.stringify({ ...rest, ...extra });
  const chainJson = `{"sentences":[${sentences.join(",")}],"finished":${JSON.stringify(chain.finished)}}`;
  const comma = Buffer.from(",");
  const parts: Uint8Array[] = [Buffer.from(`${head.slice(0, -1)},"chain":${chainJson},"tree":{"current":${JSON.stringify(tree.current)},"nodes":[`)];
  nodes.forEach((b, i) => {
    if (i) parts.push(comma);
    parts.push(b);
  });
  parts.push(Buffer.from("]}}\n"));
  return Buffer.concat(parts);
}

/**
 * The session file's text (version 2, every race in it), validated: the session around the tree
 * by the schema, the tree's shape by rebuilding it, and each node and candidate list the first
 * time it is saved.
 */
export function sessionFileBytes(session: SessionFile, file: string, checked = checkSession(session, file)): Uint8Array {
  const { tree, order } = checked;
  const nodes = order.map((id) => nodeBuffer(tree.nodes.get(id)!, file));
  return sessionText(session, tree, nodes, { schema: SESSION_SCHEMA }, (list, i) => candidatesText(list, file, `chain.sentences.${i}.candidates`));
}

// The races-file form of a node: its races by place. A stored race never moves, so a node's text
// is kept until the node is replaced (or the session is saved with another races file).
const nodeSkeletons = new WeakMap<TreeNode, { racesFile: string; bytes: Uint8Array }>();

function nodeSkeleton(n: TreeNode, racesFile: string, file: string): Uint8Array {
  const kept = nodeSkeletons.get(n);
  if (kept?.racesFile === racesFile) return kept.bytes;
  const f = nodeToFile(n);
  const r = fileNodeSchema.safeParse({ ...f, races: f.races.map((x) => ({ ...x, candidates: [] })) });
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new UserError(`${file}: field ${["tree", "node " + n.id, ...issue.path].join(".")}: ${issue.message}`);
  }
  const races = f.races.map(({ candidates, evaluatorPick }) => {
    const at = storedRaces.get(candidates)!;
    return { stored: [at.at, at.bytes, at.hash], ...(evaluatorPick !== undefined ? { evaluatorPick } : {}) };
  });
  const bytes = Buffer.from(JSON.stringify({ ...f, races }));
  nodeSkeletons.set(n, { racesFile, bytes });
  return bytes;
}

/** Whether a session goes to a races file: it already has one, or its races pass RACES_FILE_FROM bytes. */
function usesRacesFile(tree: Tree, racesFile: string): boolean {
  let bytes = 0;
  for (const n of tree.nodes.values())
    for (const r of n.races) {
      if (storedRaces.get(r.candidates)?.racesFile === racesFile) return true;
      // Kept node text is what is known without encoding: a fair measure of the races in it.
      const kept = nodeBytes.get(n);
      bytes += kept ? kept.length / Math.max(1, n.races.length) : Array.isArray(r.candidates) ? r.candidates.reduce((sum, c) => sum + candidateBytes(c), 0) : 0;
      if (bytes >= RACES_FILE_FROM) return true;
    }
  return false;
}

/** About how many bytes a candidate takes as JSON, without encoding it. */
function candidateBytes(c: Candidate): number {
  // Not validated yet (that happens as it is encoded): anything may be missing.
  const len = (x: unknown) => (typeof x === "string" || Array.isArray(x) ? x.length : 0);
  const scores = Array.isArray(c?.scores) ? c.scores : [];
  const tokens = len(c?.tokens) + scores.reduce((n, s) => n + len(s?.tokens), 0);
  return 200 + len(c?.text) + len(c?.raw) + tokens * 40;
}

/**
 * Write a session. The data is validated first: a bad session is never written. A session with
 * a races file gets its new races appended there (verified, fsynced) before the session file is
 * replaced; either step failing leaves the previous session file, and every byte it names, as it was.
 */
export async function writeSession(file: string, session: SessionFile): Promise<void> {
  const { tree, order } = checkSession(session, file);
  await ensureDir(resolve(file, ".."), "sessions");
  const racesFile = racesFileOf(file);
  if (!usesRacesFile(tree, racesFile)) {
    const bytes = sessionFileBytes(session, file, { tree, order });
    // Compact JSON: a 500-sentence session with every candidate is megabytes, written after every change.
    await writeFileVerified(file, bytes, { mode: 0o644, what: "session" });
    return;
  }
  const fresh: Array<{ list: readonly Candidate[]; text: string }> = [];
  const seen = new Set<readonly Candidate[]>();
  for (const id of order) {
    const n = tree.nodes.get(id)!;
    n.races.forEach((r, k) => {
      if (storedRaces.get(r.candidates)?.racesFile === racesFile || seen.has(r.candidates)) return;
      seen.add(r.candidates);
      fresh.push({ list: r.candidates, text: candidatesText(r.candidates, file, `tree.node ${id}.races.${k}.candidates`) });
    });
  }
  if (fresh.length) {
    const at = await appendVerifiedAt(racesFile, fresh.map((x) => x.text + "\n").join(""), {
      mode: 0o644,
      what: "session races",
      separateTornLine: true,
      sync: true,
      kept: `the session ${file} is kept as it was`,
    });
    let offset = at;
    for (const { list, text } of fresh) {
      const bytes = Buffer.byteLength(text);
      storedRaces.set(list, { racesFile, at: offset, bytes, hash: raceHash(text) });
      offset += bytes + 1;
    }
  }
  const nodes = order.map((id) => nodeSkeleton(tree.nodes.get(id)!, racesFile, file));
  const text = sessionText(session, tree, nodes, { schema: SESSION_SCHEMA_RACES_FILE, racesFile: basename(racesFile) }, () => "[]");
  await writeFileVerified(file, text, { mode: 0o644, what: "session" });
}

/**
 * Saves in order and coalesces bursts: while one write runs, only the newest next state waits.
 * The session file is locked at its first save, so a second Concord saving the same session is
 * refused (one line naming the holder) instead of overwriting what this one accepted.
 */
export function createAutosaver(dir: string, now: () => Date = () => new Date(), what = "the interface") {
  let running: Promise<void> | undefined;
  let lock: Lock | undefined;
  const lockFor = (file: string) => {
    if (lock?.file === `${file}.lock`) return;
    const next = lockFile(file, what);
    lock?.release();
    lock = next;
  };
  let next: SessionSnapshot | undefined;
  let waiters: Array<{ ok: () => void; err: (e: unknown) => void }> = [];
  const drain = async () => {
    // Never finish synchronously: `running` is assigned after this returns and cleared at its end.
    await Promise.resolve();
    while (next) {
      const snap = next;
      const ws = waiters;
      next = undefined;
      waiters = [];
      const file = snap.info.file ?? sessionPath(dir, snap.info.id);
      try {
        lockFor(file);
        await writeSession(file, toSessionFile(snap, now()));
        ws.forEach((w) => w.ok());
      } catch (e) {
        ws.forEach((w) => w.err(e));
      }
    }
    running = undefined;
  };
  const save = (snap: SessionSnapshot): Promise<void> =>
    new Promise<void>((ok, err) => {
      next = snap;
      waiters.push({ ok, err });
      running ??= drain();
    });
  const release = () => {
    lock?.release();
    lock = undefined;
  };
  // Taking the lock when a session is opened tells a second interface at once, not at its first save.
  return { save, idle: () => running ?? Promise.resolve(), release, claim: (file: string) => lockFor(file) };
}

export interface SessionEntry {
  file: string;
  id: string;
  problem?: string;
  sentences?: number;
  finished?: boolean;
  updatedAt?: string;
  /** The models it was raced with (to tell sessions of one problem apart). */
  roles?: Pick<Roles, "generators" | "evaluators" | "targets">;
  /** Why the file cannot be resumed (it is listed, never touched). */
  error?: string;
}

/** Temporaries are removed only when Concord made them (see fsutil/write.ts): never a file like `s.json.1`. */
export { removeStaleTemps };

/** Every session in a directory, newest first; unreadable files are listed with their error. */
export async function listSessions(dir: string): Promise<SessionEntry[]> {
  let names: string[];
  await removeStaleTemps(dir);
  try {
    names = (await readdir(dir)).filter((n) => n.endsWith(".json"));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new UserError(`${dir}: cannot list sessions (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const out: SessionEntry[] = [];
  for (const name of names) {
    const file = join(dir, name);
    try {
      const s = await loadSession(file);
      out.push({
        file,
        id: s.id,
        problem: `${s.problem.source}/${s.problem.id}`,
        sentences: s.chain.sentences.length,
        finished: s.chain.finished,
        updatedAt: s.updatedAt,
        roles: { generators: s.roles.generators, evaluators: s.roles.evaluators, targets: s.roles.targets },
      });
    } catch (err) {
      const mtime = await stat(file).then(
        (st) => st.mtime.toISOString(),
        () => undefined,
      );
      out.push({ file, id: basename(name, ".json"), updatedAt: mtime, error: (err as Error).message });
    }
  }
  return out.sort((a, b) => (b.updatedAt ?? "").localeCompare(a.updatedAt ?? ""));
}

/** The chain as plain thinking text, ready to reuse as a transfer CoT. */
export function exportChainText(chain: Chain): string {
  return chainText(chain) + "\n";
}

const mdCell = (s: string) => s.replace(/\|/g, "\\|").replace(/\s*\n\s*/g, " ");
const fmt = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? "-" : n.toFixed(2));

/** The whole session as a Markdown report: problem, roles, each step's race, targets. */
export function exportSessionMarkdown(s: SessionFile): string {
  const L: string[] = [];
  L.push(`# Session ${s.id}`, "");
  L.push(`- problem: ${s.problem.source}/${s.problem.id}`);
  L.push(`- reference answer: ${s.problem.reference.value} (${s.problem.reference.kind})`);
  L.push(`- generators: ${s.roles.generators.join(", ") || "-"}`);
  L.push(`- evaluators: ${s.roles.evaluators.join(", ") || "-"}`);
  L.push(`- targets: ${s.roles.targets.join(", ") || "-"}`);
  L.push(`- created: ${s.createdAt}; updated: ${s.updatedAt}; chain ${s.chain.finished ? "finished" : "open"}`, "");
  L.push("## Prompt", "");
  for (const m of s.problem.messages)
    L.push(
      `**${m.role}**`,
      "",
      m.content
        .split("\n")
        .map((l) => `> ${l}`)
        .join("\n"),
      "",
    );
  L.push("## Chain", "", "```text", chainText(s.chain), "```", "");
  L.push("## Steps", "");
  s.chain.sentences.forEach((sent, i) => {
    L.push(`### ${i + 1}. ${sent.author} (${sent.decision})`, "", mdCell(sent.text), "");
    if (sent.candidates.length) {
      const evals = [...new Set(sent.candidates.flatMap((c) => c.scores.map((x) => x.evaluator)))];
      L.push(`| candidate | text | ${evals.map((e) => `ppl ${mdCell(e)}`).join(" | ")}${evals.length ? " | " : ""}mean | |`);
      L.push(`|---|---|${evals.map(() => "---|").join("")}---|---|`);
      for (const c of sent.candidates) {
        const mark = [c.id === sent.evaluatorPick ? "pick" : "", c.id === sent.acceptedId ? "accepted" : ""].filter(Boolean).join(", ");
        const cells = evals.map((e) => fmt(c.scores.find((x) => x.evaluator === e)?.perplexity));
        L.push(`| ${mdCell(c.id)} | ${mdCell(c.text)} | ${cells.join(" | ")}${cells.length ? " | " : ""}${fmt(c.meanPerplexity)} | ${mark} |`);
      }
      L.push("");
    }
  });
  L.push(...treeMarkdown(sessionTree(s)));
  if (s.targets.answers.length) {
    L.push("## Target answers", "", "| chain length | target | answer | correct |", "|---|---|---|---|");
    for (const a of s.targets.answers)
      L.push(`| ${a.chainLength} | ${mdCell(a.target)} | ${mdCell(a.grade.answer || "(none)")} | ${a.grade.correct ? "yes" : "no"} |`);
    L.push("");
  }
  if (s.targets.consistency.length) {
    L.push(
      "## Consistency",
      "",
      "| chain length | consistency | accuracy | consistent-correct | consistent-wrong | inconsistent |",
      "|---|---|---|---|---|---|",
    );
    for (const c of s.targets.consistency)
      L.push(
        `| ${c.chainLength} | ${fmt(c.consistency)} | ${fmt(c.accuracy)} | ${fmt(c.split.consistentCorrect)} | ${fmt(c.split.consistentWrong)} | ${fmt(c.split.inconsistent)} |`,
      );
    L.push("");
  }
  return L.join("\n");
}

/** The tree as a nested list: each node's chosen sentence, who chose it, perplexity and
 * consistency; the branch on view is marked. */
function treeMarkdown(t: Tree): string[] {
  const all = branches(t);
  const L = [
    "## Tree",
    "",
    `${count(t.nodes.size - 1, "sentence")} in ${count(all.length, "branch", "branches")}, each named by its last node: ${all.map((b) => b.id).join(", ")}.`,
    "",
  ];
  const rows = outline(t).filter((r) => r.edge);
  const base = Math.min(...rows.map((r) => r.indent));
  for (const r of rows) {
    if (!r.edge) continue;
    const who = r.edge.decision === "evaluator" ? `${r.edge.author}, evaluator's pick` : `${r.edge.author}, ${r.edge.decision}`;
    const facts = [who, r.perplexity !== undefined ? `ppl ${fmt(r.perplexity)}` : "", r.consistency !== undefined ? `cons ${fmt(r.consistency)}` : ""].filter(
      Boolean,
    );
    const mark = r.current ? " **← current**" : "";
    // A node that starts a branch is marked; its run of sentences follows at its level.
    L.push(`${"  ".repeat(r.indent - base)}- ${r.fork ? "⑂ " : ""}\`${r.id}\` ${mdCell(r.edge.text.trim())} (${facts.join(" · ")})${mark}`);
  }
  L.push("");
  return L;
}

/**
 * Write the chain as plain text (`<id>.txt`) and the session as Markdown (`<id>.md`) next to the
 * session file: the file the session was resumed from, else `<dir>/<id>.json`.
 */
export async function writeSessionExports(snapshot: SessionSnapshot, dir: string, now = new Date()): Promise<{ text: string; markdown: string }> {
  const file = snapshot.info.file ?? sessionPath(dir, snapshot.info.id);
  const stem = join(dirname(file), basename(file).replace(/\.json$/i, ""));
  const session = toSessionFile(snapshot, now);
  const out = { text: `${stem}.txt`, markdown: `${stem}.md` };
  await ensureDir(dirname(file), "sessions");
  await writeFileVerified(out.text, exportChainText(session.chain), { mode: 0o644, what: "chain export" });
  await writeFileVerified(out.markdown, exportSessionMarkdown(session), { mode: 0o644, what: "Markdown export" });
  return out;
}
