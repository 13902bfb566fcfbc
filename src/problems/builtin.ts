// A small demo set of original arithmetic word problems, short enough for tiny local models.
import type { Problem } from "../core/types.js";
import { gsm8kMessages } from "./gsm8k.js";

const DEMO: Array<[question: string, answer: string]> = [
  ["Tom has 3 apples and buys 4 more. How many apples does he have now?", "7"],
  ["A box holds 6 eggs. How many eggs are in 5 boxes?", "30"],
  ["Mia reads 12 pages a day. How many days does she need to read a 60-page book?", "5"],
  ["A bus has 20 seats. 13 people get on, then 4 get off. How many seats are empty?", "11"],
  ["Pens cost 2 dollars each. Sam pays with a 10-dollar bill for 3 pens. How much change does he get?", "4"],
];

/** Names under which the demo set can be asked for. */
export const BUILTIN_NAMES = ["builtin", "demo"] as const;

/** The demo problems, ids "demo-1" to "demo-5" (the interface opens on "demo-1"). */
export function builtinProblems(): Problem[] {
  return DEMO.map(([question, value], i) => ({
    id: `demo-${i + 1}`,
    source: "demo",
    messages: gsm8kMessages(question),
    reference: { kind: "number", value },
    meta: { question },
  }));
}
