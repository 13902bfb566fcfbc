import { test } from "node:test";
import assert from "node:assert/strict";
import { BatchWriter } from "../../src/engine/batch-writer.js";

test("records that finish during a write go together in the next, in order; each caller resumes once its own is written", async () => {
  const batches: number[][] = [];
  let release!: () => void;
  const writer = new BatchWriter<number>(async (items) => {
    batches.push(items);
    if (batches.length === 1) await new Promise<void>((r) => (release = r));
  });
  const written: number[] = [];
  const first = writer.add(1).then(() => written.push(1));
  const rest = [2, 3, 4].map((n) => writer.add(n).then(() => written.push(n)));
  await new Promise((r) => setImmediate(r));
  assert.deepEqual(written, [], "nothing resolves before its batch is written");
  release();
  await Promise.all([first, ...rest]);
  assert.deepEqual(batches, [[1], [2, 3, 4]]);
  assert.deepEqual(written, [1, 2, 3, 4]);
  await writer.idle();
});

test("a failed write fails its batch and every later record, and nothing after it is written", async () => {
  const batches: string[][] = [];
  let release!: () => void;
  const writer = new BatchWriter<string>(async (items) => {
    batches.push(items);
    if (batches.length === 1) await new Promise<void>((r) => (release = r));
    if (items.includes("bad")) throw new Error("disk full");
  });
  const a = writer.add("a");
  const bad = writer.add("bad");
  const c = writer.add("c");
  release();
  await a;
  await assert.rejects(bad, /disk full/);
  await assert.rejects(c, /disk full/);
  await assert.rejects(writer.add("d"), /disk full/);
  await writer.idle();
  assert.deepEqual(batches, [["a"], ["bad", "c"]]);
});
