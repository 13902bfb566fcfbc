// Runs Concord's command line from its TypeScript sources (as `npm run dev` does), with the
// production React build that bin/concord.js selects: the program the tests exercise.
import { register } from "tsx/esm/api";

process.env.NODE_ENV ??= "production";
register();
await import("../src/cli.tsx");
