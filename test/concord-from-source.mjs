// Runs Concord's command line from its sources, with the production React build that
// bin/concord.js selects: the program the tests exercise. test/run.mjs bundles the sources once
// per run (CONCORD_TEST_PROGRAM, as `npm run build` does); a test file run on its own compiles
// them here with tsx (as `npm run dev` does).
import { pathToFileURL } from "node:url";

process.env.NODE_ENV ??= "production";
const program = process.env.CONCORD_TEST_PROGRAM;
if (program) {
  await import(pathToFileURL(program).href);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli.tsx");
}
