// Bundles the build (dist/cli.js and what it imports, libraries included) into dist/bundle/,
// which bin/concord.js runs. Why: Node 20 has no compile cache for ES modules, and resolving,
// reading and linking about a thousand small module files (Ink, React, es-toolkit, zod, conf)
// took most of the time to the interface's first frame. Lazy imports stay lazy (split into
// chunks); node-llama-cpp stays outside (native, and loaded only when a model is needed).
import { build } from "esbuild";
import { rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const outdir = join(root, "dist", "bundle");
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: [join(root, "dist", "cli.js")],
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  // React's production build only (bin/concord.js sets NODE_ENV=production before loading the
  // bundle): the development builds of react-reconciler and react are about 900 KB that every
  // start would otherwise parse before the first frame.
  define: { "process.env.NODE_ENV": '"production"' },
  // Ink imports react-devtools-core only when DEV=true; it is not installed.
  external: ["node-llama-cpp", "react-devtools-core"],
  // Libraries written as CommonJS call require() for Node's own modules.
  banner: { js: "import { createRequire as __concordRequire } from 'node:module'; const require = __concordRequire(import.meta.url);" },
  logLevel: "error",
});
