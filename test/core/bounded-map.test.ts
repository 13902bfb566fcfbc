import { test } from "node:test";
import assert from "node:assert/strict";
import { BoundedMap } from "../../src/core/bounded-map.js";

test("a bounded map keeps its latest keys, the oldest added going first; a key set again keeps its place", () => {
  const m = new BoundedMap<string, number>(3);
  for (const [i, k] of ["a", "b", "c"].entries()) m.set(k, i);
  m.set("a", 10);
  m.set("d", 3);
  assert.deepEqual(
    [...m],
    [
      ["b", 1],
      ["c", 2],
      ["d", 3],
    ],
  );
});

test("getOrMake makes a value once and keeps it, within the bound", () => {
  const m = new BoundedMap<string, string>(2);
  let made = 0;
  const upper = (k: string) => m.getOrMake(k, () => (made++, k.toUpperCase()));
  assert.deepEqual([upper("x"), upper("x"), upper("y"), upper("z"), upper("x")], ["X", "X", "Y", "Z", "X"]);
  assert.equal(made, 4, "x made again after y and z pushed it out");
  assert.deepEqual([...m.keys()], ["z", "x"]);
});
