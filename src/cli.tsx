// The program: everything is composed in src/app (the headless and the interactive entry).
import { main } from "./app/headless.js";

// Not awaited at the top level: the built program is one CommonJS file (scripts/bundle.mjs), which
// cannot await there. main reports its own failures, and a stray rejection meets the crash guards.
void main(process.argv);
