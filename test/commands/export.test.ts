// `concord export`: a saved session as chain text or Markdown, to stdout or a file; bad files are
// one line naming the file and the place, exit code 1.
import { test, describe, before } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { PassThrough } from "node:stream";
import { exportCommand } from "../../src/commands/export.js";
import { toSessionFile, writeSession } from "../../src/state/sessions.js";
import { demoProblem } from "../doubles/scripted-driver.js";
import { accept, chainAt, emptyTree, moveTo } from "../../src/core/tree.js";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const dir = mkdtempSync(join(tmpdir(), "concord-export-cmd-"));
const good = join(dir, "s.json");

function concord(...args: string[]) {
  const r = spawnSync(process.execPath, ["test/concord-from-source.mjs", ...args], { cwd: ROOT, env: { ...process.env }, encoding: "utf8" });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** Collects what is written; `isTTY` says whether it poses as a terminal. */
function sink(isTTY = false) {
  const s = new PassThrough() as PassThrough & { isTTY?: boolean; text: () => string };
  let out = "";
  s.on("data", (d) => (out += d));
  s.isTTY = isTTY;
  s.text = () => out;
  return s;
}

before(async () => {
  await writeSession(
    good,
    toSessionFile({
      info: { id: "sess-1", createdAt: "2026-01-01T00:00:00.000Z" },
      problem: demoProblem,
      roles: { generators: ["alpha"], evaluators: ["judge"], targets: ["t1"] },
      chain: {
        finished: false,
        sentences: [
          { text: "Six sevens.", author: "alpha", decision: "evaluator", candidates: [], at: "2026-01-01T00:00:00.000Z" },
          { text: " \u001b[31mRed\u001b[0m is 42.", author: "human", decision: "human-written", candidates: [], at: "2026-01-01T00:00:00.000Z" },
        ],
      },
      targets: { answers: [{ target: "t1", chainLength: 2, raw: "42", grade: { answer: "42", correct: true } }], consistency: [] },
    }),
  );
});

describe("concord export", () => {
  test("text to stdout (escapes removed on a terminal), markdown to --out as written", async () => {
    const plain = sink();
    await exportCommand(good, {}, plain);
    assert.equal(plain.text(), "Six sevens. \u001b[31mRed\u001b[0m is 42.\n");
    const tty = sink(true);
    await exportCommand(good, { format: "text" }, tty);
    assert.equal(tty.text(), "Six sevens. Red is 42.\n");
    const out = join(dir, "nested", "s.md");
    await exportCommand(good, { format: "markdown", out }, sink());
    const md = readFileSync(out, "utf8");
    assert.match(md, /^# Session sess-1\n/);
    assert.match(md, /\| 2 \| t1 \| 42 \| yes \|/);
  });

  test("the command line: stdout by default, a bad file is one line and exit 1", () => {
    const ok = concord("export", good);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^Six sevens\. .*is 42\.\n$/);
    const bad = join(dir, "bad.json");
    writeFileSync(bad, '{"schema": 1, "id": "x",\n  "problem": ,\n  "roles": {}}\n');
    const r = concord("export", bad, "--format", "markdown");
    assert.equal(r.code, 1);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, `concord: ${bad}: not valid JSON at line 2 column 14\n`);
    const partial = join(dir, "partial.json");
    writeFileSync(partial, JSON.stringify({ ...JSON.parse(readFileSync(good, "utf8")), chain: { sentences: [{ text: 1 }], finished: false } }));
    const p = concord("export", partial);
    assert.equal(p.code, 1);
    assert.match(p.stderr, /^concord: \S+partial\.json: field chain\.sentences\.0\.text: .+\n$/);
  });
});

describe("concord export: the session tree", () => {
  const treeFile = join(dir, "tree.json");
  const sent = (text: string, decision: "evaluator" | "human-pick" = "evaluator") => ({
    text,
    author: "alpha",
    decision,
    candidates: [],
    at: "2026-01-01T00:00:00.000Z",
  });
  before(async () => {
    // root -> "A." -> "B." -> "C."; at "A." also "B2."; at the root also "A2.": three branches
    let t = emptyTree();
    t = accept(t, t.current, sent("A."));
    t = accept(t, t.current, sent(" B."));
    t = accept(t, t.current, sent(" C."));
    t = accept(moveTo(t, "n1"), "n1", sent(" B2.", "human-pick"));
    t = accept(moveTo(t, t.root), t.root, sent("A2.", "human-pick"));
    t = moveTo(t, "n4");
    await writeSession(
      treeFile,
      toSessionFile({
        info: { id: "sess-tree", createdAt: "2026-01-01T00:00:00.000Z" },
        problem: demoProblem,
        roles: { generators: ["alpha"], evaluators: ["judge"], targets: ["t1"] },
        chain: chainAt(t, t.current),
        targets: { answers: [], consistency: [] },
        tree: t,
      }),
    );
  });

  test("--branches --json: every branch root to leaf as arrays of sentence texts", () => {
    const r = concord("export", treeFile, "--branches", "--json");
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), [["A.", " B.", " C."], ["A.", " B2."], ["A2."]]);
  });

  test("--branch <id>: one branch as a transfer CoT; a wrong id names the branches there are", () => {
    const r = concord("export", treeFile, "--branch", "n3");
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "A. B. C.\n");
    // the session's own chain is the current branch
    assert.equal(concord("export", treeFile).stdout, "A. B2.\n");
    const bad = concord("export", treeFile, "--branch", "n9");
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, `concord: ${treeFile}: no node n9 in this session (branches: n3, n4, n5)\n`);
  });

  test("the Markdown export draws the tree, forks marked, the current branch shown", async () => {
    const md = await exportCommand(treeFile, { format: "markdown" }, sink());
    const section = md.slice(md.indexOf("## Tree"), md.indexOf("##", md.indexOf("## Tree") + 3));
    assert.match(section, /5 sentences in 3 branches, each named by its last node: n3, n4, n5\./);
    assert.deepEqual(
      section.split("\n").filter((l) => /^\s*- /.test(l)),
      [
        "- ⑂ `n1` A. (alpha, evaluator's pick)",
        "  - ⑂ `n2` B. (alpha, evaluator's pick)",
        "  - `n3` C. (alpha, evaluator's pick)",
        "  - ⑂ `n4` B2. (alpha, human-pick) **← current**",
        "- ⑂ `n5` A2. (alpha, human-pick)",
      ],
    );
  });
});
