// The test files of a run, compiled once by esbuild into dist/test-run-<pid>/ (the same folder
// layout under it) instead of by tsx in every test process. Why: tsx resolves and loads each of
// the thousand-odd modules a test imports through its loader hooks, which cost a test of the
// interface about 2 s of CPU before its first assertion, over a hundred times a run.
// Libraries stay outside (loaded by Node as installed); import.meta in the project's own files
// keeps pointing at the source file, so fixtures are found where they are. A JavaScript module
// (.mjs) a test imports for its side effects before anything else, such as the colour switch of
// the interface tests, stays a module of its own and that test is compiled without shared chunks,
// so that the module still runs first.
import { build } from "esbuild";
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const root = resolve(dirname(new URL(import.meta.url).pathname), "..", "..");

const ownImportMeta = {
  name: "own-import-meta",
  setup(b) {
    b.onLoad({ filter: /\.(ts|tsx|mts)$/ }, (args) => {
      if (args.path.includes("/node_modules/")) return undefined;
      const here = { url: pathToFileURL(args.path).href, dirname: dirname(args.path), filename: args.path };
      const contents = readFileSync(args.path, "utf8").replace(/\bimport\.meta\.(url|dirname|filename)\b/g, (_, key) => JSON.stringify(here[key]));
      return { contents, loader: args.path.endsWith(".tsx") ? "tsx" : "ts" };
    });
    b.onResolve({ filter: /\.mjs$/ }, (args) =>
      args.importer && !args.importer.includes("node_modules") ? { path: resolve(args.resolveDir, args.path), external: true } : undefined,
    );
  },
};

/** Compile `files` (paths under the project) into `outdir`; resolves with each file's compiled path, in order. */
export async function bundleTests(files, outdir) {
  const paths = files.map((f) => resolve(root, f));
  // Shared code goes into chunks that a file imports before its own first import; a file that must
  // run a module before everything else (an .mjs it imports first) is compiled whole, on its own.
  const first = paths.filter((p) => /^import "[^"]+\.mjs";/m.test(readFileSync(p, "utf8")));
  const rest = paths.filter((p) => !first.includes(p));
  const options = {
    outdir,
    outbase: root,
    bundle: true,
    format: "esm",
    platform: "node",
    target: "node20",
    packages: "external",
    jsx: "automatic",
    plugins: [ownImportMeta],
    logLevel: "warning",
  };
  await Promise.all([
    rest.length ? build({ ...options, entryPoints: rest, splitting: true }) : undefined,
    first.length ? build({ ...options, entryPoints: first, splitting: false }) : undefined,
  ]);
  return paths.map((p) => join(outdir, p.slice(root.length + 1).replace(/\.[cm]?tsx?$/, ".js")));
}
