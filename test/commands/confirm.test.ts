// Costs before spending: the call count is said first; on a terminal the user is asked (y goes
// on, anything else stops), --yes answers for them, and piped nobody is asked.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { confirmCalls } from "../../src/cli/confirm.js";

function terminal(tty: boolean) {
  const input = Object.assign(new PassThrough(), { isTTY: tty });
  const output = Object.assign(new PassThrough(), { isTTY: tty });
  let text = "";
  output.on("data", (d: Buffer) => (text += d.toString()));
  return { input, output, text: () => text };
}

describe("confirmCalls", () => {
  test("on a terminal: asks, and only y goes on", async () => {
    for (const [reply, expected] of [
      ["y\n", true],
      ["yes\n", true],
      ["n\n", false],
      ["\n", false],
    ] as const) {
      const t = terminal(true);
      const answer = confirmCalls(120, "experiment x", ["judge calls"], { input: t.input, output: t.output });
      // The question is on screen before the reply is typed.
      await new Promise<void>((resolve) => {
        const check = () => (t.text().includes("Go on? [y/N]") ? resolve() : setImmediate(check));
        check();
      });
      t.input.write(reply);
      assert.equal(await answer, expected, reply);
      assert.match(t.text(), /^concord: experiment x: 120 model calls, plus judge calls\n/);
    }
  });

  test("--yes, nothing to do, or no terminal: says the count and goes on without asking", async () => {
    for (const [tty, yes, calls] of [
      [true, true, 5],
      [true, false, 0],
      [false, false, 5],
    ] as const) {
      const t = terminal(tty);
      assert.equal(await confirmCalls(calls, "relay", [], { yes, input: t.input, output: t.output }), true);
      assert.doesNotMatch(t.text(), /Go on/);
      assert.match(t.text(), new RegExp(`relay: ${calls} model call`));
    }
  });
});
