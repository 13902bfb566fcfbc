// Bundles the build (dist/cli.js and what it imports, libraries included) into dist/bundle/,
// which bin/concord.js runs. Why: Node 20 has no compile cache for ES modules, and resolving,
// reading and linking about a thousand small module files (Ink, React, es-toolkit, zod, conf)
// took most of the time to the interface's first frame. Lazy imports stay lazy (split into
// chunks); node-llama-cpp stays outside (native, and loaded only when a model is needed).
import { build } from "esbuild";
import { existsSync, readFileSync, rmSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// Ink's layout engine (yoga-layout) carries its WebAssembly as a base64 string and reads it with
// fetch() of a data: URL whenever fetch exists. On Node 20 that first fetch loads Node's whole
// HTTP client (undici), about 35 ms before the first frame; without fetch the same bytes are
// decoded directly. A `fetch` of its own, undefined, inside the loader's scope takes that path.
const YOGA_LOADER = /yoga-layout[\\/]dist[\\/]binaries[\\/]yoga-wasm-base64-esm\.js$/;
const YOGA_SCOPE = "var loadYoga = (() => {";
const yogaWithoutFetch = {
  name: "yoga-without-fetch",
  setup(b) {
    b.onLoad({ filter: YOGA_LOADER }, (args) => {
      const text = readFileSync(args.path, "utf8");
      if (!text.includes(YOGA_SCOPE))
        return { contents: text, loader: "js", warnings: [{ text: "yoga-layout's loader changed: it reads its WebAssembly with fetch()" }] };
      return { contents: text.replace(YOGA_SCOPE, `${YOGA_SCOPE} var fetch;`), loader: "js" };
    });
  },
};
// zod carries its messages in about 50 languages (358 KB, half of zod in the bundle), all parsed
// before the first frame because `z.locales` is part of the namespace every schema imports.
// Concord's messages are English: the locales index keeps English only (`z.locales.en`).
const ZOD_LOCALES = /zod[\\/]v4[\\/]locales[\\/]index\.js$/;
const zodEnglishOnly = {
  name: "zod-english-only",
  setup(b) {
    b.onLoad({ filter: ZOD_LOCALES }, () => ({ contents: 'export { default as en } from "./en.js";', loader: "js" }));
  },
};

// conf validates settings with a JSON schema (ajv, ajv-formats) and migrates them between
// versions (semver) only when given the options for it; Concord validates its settings with its
// own schemas and passes neither. Left out, they are about 300 KB less to parse before the first
// frame; the stand-ins refuse at once, naming the option, should it ever be passed.
const CONF_UNUSED = /^(ajv\/dist\/2020\.js|ajv-formats|semver)$/;
const confWithoutSchemas = {
  name: "conf-without-schemas",
  setup(b) {
    b.onResolve({ filter: CONF_UNUSED }, (args) => (/[\\/]conf[\\/]/.test(args.importer) ? { path: args.path, namespace: "conf-unused" } : undefined));
    b.onLoad({ filter: /.*/, namespace: "conf-unused" }, (args) => ({
      contents: `const refuse = () => { throw new Error("conf's ${args.path} is not in this build: Concord passes conf no schema and no migrations"); };
export class Ajv2020 { constructor() { refuse(); } }
export default new Proxy(refuse, { get: () => refuse });`,
      loader: "js",
    }));
  },
};

// string-width builds an Intl.Segmenter and Unicode-property expressions before its first answer
// (about 100 ms on Node 20, two copies of it in Ink's dependencies), and Ink measures every line of
// the first frame. Every import of string-width gets src/ui/cell-width's answer where that can be
// given without segmentation (ASCII, Latin, punctuation, box drawing: the interface's own text),
// and loads string-width itself (one copy, the program's) the first time it cannot.
const STRING_WIDTH_NS = "concord-string-width";
function stringWidthFastPath(entry) {
  const base = join(dirname(entry), "ui", "cell-width");
  const cellWidth = existsSync(`${base}.ts`) ? `${base}.ts` : `${base}.js`;
  return {
    name: "string-width-fast-path",
    setup(b) {
      // From the module below, the real string-width (resolved from the project); from anywhere else, that module.
      b.onResolve({ filter: /^string-width$/ }, (args) =>
        args.namespace === STRING_WIDTH_NS ? undefined : { path: "string-width", namespace: STRING_WIDTH_NS },
      );
      b.onLoad({ filter: /.*/, namespace: STRING_WIDTH_NS }, () => ({
        resolveDir: root,
        loader: "js",
        contents: `import { simpleCellWidth } from ${JSON.stringify(cellWidth)};
let full;
export default function stringWidth(text, options) {
  const simple = simpleCellWidth(text, options);
  if (simple !== undefined) return simple;
  full ??= require("string-width").default;
  return full(text, options);
}`,
      }));
    },
  };
}

/**
 * Bundle the program from `entry` (dist/cli.js, or src/cli.tsx: esbuild reads TypeScript too)
 * into `outdir`, a folder two levels under the project (as dist/bundle), so that paths the code
 * finds from its own location (themes/, the project root) hold.
 */
export async function bundleProgram({ entry, outdir }) {
  rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: [entry],
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
    plugins: [yogaWithoutFetch, zodEnglishOnly, confWithoutSchemas, stringWidthFastPath(entry)],
    // Less to parse before the first frame (names are kept: stack traces still read).
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: "warning",
  });
  return join(outdir, basename(entry).replace(/\.[cm]?[jt]sx?$/, ".js"));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await bundleProgram({ entry: join(root, "dist", "cli.js"), outdir: join(root, "dist", "bundle") });
}
