// Session files, version 2: the tree is saved whole; a version-1 file (saved by the interface
// before the tree existed) opens as one branch and is rewritten only when saved.
import { test, describe } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { branches, chainAt, nodeOf, pathTo } from "../../src/core/tree.js";
import { listSessions, loadSession, writeSession } from "../../src/state/sessions.js";

const V1 = fileURLToPath(new URL("../fixtures/sessions/v1-demo-stories260K.json", import.meta.url));
const dir = mkdtempSync(join(tmpdir(), "concord-sessions-v2-"));

describe("session schema 2", () => {
  test("a version-1 session opens as one branch with its answers at their nodes, and the file is left alone", async () => {
    const file = join(dir, "v1.json");
    copyFileSync(V1, file);
    const before = readFileSync(file, "utf8");
    const mtime = statSync(file).mtimeMs;
    const raw = JSON.parse(before) as {
      schema: number;
      chain: { sentences: Array<{ text: string; candidates: unknown[] }> };
      targets: { answers: Array<{ chainLength: number; target: string; raw: string }> };
    };
    assert.equal(raw.schema, 1);
    const s = await loadSession(file);
    assert.equal(s.schema, 1);
    const tree = s.tree!;
    assert.equal(branches(tree).length, 1);
    const path = pathTo(tree, tree.current);
    assert.equal(path.length, raw.chain.sentences.length + 1);
    assert.deepEqual(
      chainAt(tree, tree.current).sentences.map((x) => x.text),
      raw.chain.sentences.map((x) => x.text),
    );
    // each sentence's race is kept at the node it was run at
    raw.chain.sentences.forEach((sent, i) => assert.equal(nodeOf(tree, path[i]!).races[0]?.candidates.length ?? 0, sent.candidates.length));
    // the latest answer of each target for each length sits on that length's node
    for (const a of raw.targets.answers.filter((x) => x.chainLength <= raw.chain.sentences.length)) {
      const at = nodeOf(tree, path[a.chainLength]!).answers.find((x) => x.target === a.target)!;
      const latest = raw.targets.answers.filter((x) => x.chainLength === a.chainLength && x.target === a.target).at(-1)!;
      assert.equal(at.raw, latest.raw);
    }
    const listed = await listSessions(dir);
    assert.equal(listed[0]!.sentences, raw.chain.sentences.length);
    assert.equal(readFileSync(file, "utf8"), before, "loading does not rewrite it");
    assert.equal(statSync(file).mtimeMs, mtime);

    // Saved, it becomes version 2 with the same chain and the tree.
    await writeSession(file, s);
    const after = JSON.parse(readFileSync(file, "utf8")) as { schema: number; tree: { nodes: unknown[]; current: string } };
    assert.equal(after.schema, 2);
    assert.equal(after.tree.nodes.length, raw.chain.sentences.length + 1);
    const again = await loadSession(file);
    assert.equal(again.schema, 2);
    assert.deepEqual(again.chain, s.chain);
    assert.deepEqual(again.tree, s.tree);
  });

  test("a broken tree is refused in one line naming the file and the node", async () => {
    const s = await loadSession(V1);
    const file = join(dir, "bad.json");
    await writeSession(file, s);
    const data = JSON.parse(readFileSync(file, "utf8")) as { tree: { nodes: Array<{ id: string; parent?: string }>; current: string } };
    data.tree.nodes[3]!.parent = "n99";
    writeFileSync(file, JSON.stringify(data));
    await assert.rejects(loadSession(file), (e: Error) => e.message === `${file}: tree node n3: parent n99 is not before it`);
    data.tree.nodes[3]!.parent = "n2";
    data.tree.current = "n42";
    writeFileSync(file, JSON.stringify(data));
    await assert.rejects(loadSession(file), /current node n42 is not in it/);
    delete (data as { tree?: unknown }).tree;
    writeFileSync(file, JSON.stringify(data));
    await assert.rejects(loadSession(file), /field tree: /);
  });
});
