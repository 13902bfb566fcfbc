// A large session keeps its races in an append-only file beside it: a save appends only the new
// races, and neither a failed append nor a crash between the two writes loses the saved session.
import { test } from "node:test";
import assert from "node:assert/strict";
import { appendFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Candidate, ChainSentence } from "../../src/core/chain.js";
import { accept, chainAt, emptyTree, type Tree } from "../../src/core/tree.js";
import { RACES_FILE_FROM, loadSession, racesFileOf, sessionFileData, toSessionFile, writeSession, type SessionFile } from "../../src/state/sessions.js";
import { demoProblem } from "../doubles/scripted-driver.js";

const tmp = () => mkdtempSync(join(tmpdir(), "concord-races-"));

function candidate(step: number, k: number, rawBytes: number): Candidate {
  const text = `Step ${step} option ${k}.`;
  return {
    id: `alpha#${k}`,
    generator: "alpha",
    sampleIndex: k,
    text,
    raw: text + " " + "x".repeat(rawBytes),
    tokens: [{ token: "Step", logprob: -0.5 }],
    scores: [{ evaluator: "judge", meanNll: 1 + k, perplexity: Math.exp(1 + k), tokens: [{ token: "Step", logprob: -1 }] }],
    meanPerplexity: Math.exp(1 + k),
    endOfThought: false,
  };
}

function grow(t: Tree, step: number, rawBytes: number): Tree {
  const candidates = [0, 1, 2].map((k) => candidate(step, k, rawBytes));
  const s: ChainSentence = {
    text: candidates[0]!.text,
    author: "alpha",
    decision: "evaluator",
    candidates,
    evaluatorPick: "alpha#0",
    acceptedId: "alpha#0",
    at: "2026-01-01T00:00:00.000Z",
  };
  return accept(t, t.current, s);
}

function session(tree: Tree): SessionFile {
  return toSessionFile(
    {
      info: { id: "big", createdAt: "2026-01-01T00:00:00.000Z" },
      problem: demoProblem,
      roles: { generators: ["alpha"], evaluators: ["judge"], targets: ["t1"] },
      chain: chainAt(tree, tree.current),
      targets: { answers: [], consistency: [] },
      tree,
    },
    new Date("2026-01-02T00:00:00Z"),
  );
}

/** A tree whose races together pass the races-file threshold. */
function bigTree(steps = 6): Tree {
  let t = emptyTree();
  const raw = Math.ceil(RACES_FILE_FROM / (steps * 3)) + 1000;
  for (let i = 1; i <= steps; i++) t = grow(t, i, raw);
  return t;
}

const plain = (s: SessionFile) => JSON.parse(JSON.stringify(sessionFileData(s)));

test("a small session stays one self-contained version 2 file", async () => {
  const dir = tmp();
  const file = join(dir, "small.json");
  let t = emptyTree();
  for (let i = 1; i <= 3; i++) t = grow(t, i, 10);
  await writeSession(file, session(t));
  assert.equal(JSON.parse(readFileSync(file, "utf8")).schema, 2);
  assert.throws(() => statSync(racesFileOf(file)), /ENOENT/);
});

test("a large session is version 3: races appended beside it, only the new ones on each save, and it loads back the same", async () => {
  const dir = tmp();
  const file = join(dir, "big.json");
  const races = racesFileOf(file);
  let t = bigTree();
  await writeSession(file, session(t));
  const head = JSON.parse(readFileSync(file, "utf8"));
  assert.equal(head.schema, 3);
  assert.equal(head.racesFile, "big.races.jsonl");
  assert.ok(statSync(file).size < 64 * 1024, `the session file holds the skeleton only (${statSync(file).size} bytes)`);
  const first = readFileSync(races);
  assert.ok(first.length > RACES_FILE_FROM);

  // One more sentence: the races file grows by that one race, and what was there is untouched.
  t = grow(t, 7, 2000);
  await writeSession(file, session(t));
  const second = readFileSync(races);
  assert.ok(second.subarray(0, first.length).equals(first), "earlier races are never rewritten");
  const added = second.length - first.length;
  assert.ok(added > 6000 && added < 12000, `one race of three candidates appended (${added} bytes)`);

  const back = await loadSession(file);
  assert.equal(back.schema, 3);
  assert.deepEqual(plain(back), plain(session(t)));

  // Saving what was loaded appends nothing: its races are known to be there.
  await writeSession(file, back);
  assert.equal(readFileSync(races).length, second.length);
});

test("a version 2 session that has grown large is saved as version 3 and loads the same", async () => {
  const dir = tmp();
  const file = join(dir, "old.json");
  const t = bigTree();
  writeFileSync(file, JSON.stringify(sessionFileData(session(t))));
  const v2 = await loadSession(file);
  assert.equal(v2.schema, 2);
  await writeSession(file, v2);
  assert.equal(JSON.parse(readFileSync(file, "utf8")).schema, 3);
  assert.deepEqual(plain(await loadSession(file)), plain(session(t)));
});

test("a failed append leaves the session file byte for byte, and races appended without a session file after them are ignored", async () => {
  const dir = tmp();
  const file = join(dir, "s.json");
  const races = racesFileOf(file);
  let t = bigTree();
  await writeSession(file, session(t));
  const saved = readFileSync(file);
  const racesBefore = readFileSync(races);

  // The races file cannot be appended to (made a folder): the save fails in one line, nothing changes.
  rmSync(races);
  mkdirSync(races);
  t = grow(t, 7, 100);
  await assert.rejects(writeSession(file, session(t)), (e: Error) => e.message.includes("session races") && !e.message.includes("\n"));
  assert.ok(readFileSync(file).equals(saved));
  rmSync(races, { recursive: true });
  writeFileSync(races, racesBefore);

  // A crash after an append (a torn line with no newline, then garbage) before the session file was replaced.
  appendFileSync(races, '[{"id":"half-writ');
  assert.deepEqual(plain(await loadSession(file)), plain(session(bigTree())));
  // The next save starts on a line of its own and loads.
  await writeSession(file, session(t));
  assert.deepEqual(plain(await loadSession(file)), plain(session(t)));
});

test("a races file cut short, changed or missing gives one line naming the session file", async () => {
  const dir = tmp();
  const file = join(dir, "s.json");
  const races = racesFileOf(file);
  await writeSession(file, session(bigTree()));
  const good = readFileSync(races);
  const oneLine = (re: RegExp) => (e: Error) => e.message.startsWith(file) && re.test(e.message) && !e.message.includes("\n");

  truncateSync(races, good.length - 100);
  await assert.rejects(loadSession(file), oneLine(/past the end .*cut short/));

  const changed = Buffer.from(good);
  changed[good.length - 50] = changed[good.length - 50] === 0x78 ? 0x79 : 0x78;
  writeFileSync(races, changed);
  await assert.rejects(loadSession(file), oneLine(/not the ones saved/));

  rmSync(races);
  await assert.rejects(loadSession(file), oneLine(/cannot read its races file .*ENOENT/));

  // A session file naming a races file elsewhere is refused.
  writeFileSync(races, good);
  const head = JSON.parse(readFileSync(file, "utf8"));
  writeFileSync(file, JSON.stringify({ ...head, racesFile: "../elsewhere.races.jsonl" }));
  await assert.rejects(loadSession(file), oneLine(/field racesFile/));
});
