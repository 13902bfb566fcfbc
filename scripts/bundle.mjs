// Bundles the build (dist/cli.js and what it imports, libraries included) into dist/bundle/,
// which bin/concord.js runs: one CommonJS file, concord.cjs, and the module that starts it with
// V8's code cache (src/app/launch-bundle.ts, as cli.js). Why: resolving, reading and linking about
// a thousand small module files (Ink, React, es-toolkit, zod, conf) took most of the time to the
// interface's first frame, and Node 20 keeps no compiled code between starts; a script run from
// a vm.Script can. Modules imported lazily are still evaluated lazily, inside the one file;
// node-llama-cpp stays outside (native, and loaded only when a model is needed).
import { build } from "esbuild";
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");

// Changes to libraries, each checked: a library whose text no longer matches fails the build,
// naming what changed, rather than building something that differs unseen.
function replaceOnce(file, text, from, to) {
  if (!text.includes(from)) throw new Error(`${file} changed: "${from}" is no longer in it (scripts/bundle.mjs)`);
  return text.replace(from, to);
}
const patch = (name, filter, edits) => ({
  name,
  setup(b) {
    b.onLoad({ filter }, (args) => ({
      contents: edits.reduce((text, [from, to]) => replaceOnce(args.path, text, from, to), readFileSync(args.path, "utf8")),
      loader: "js",
    }));
  },
});

// Ink's layout engine (yoga-layout) carries its WebAssembly as base64 and instantiates it with an
// awaited promise at the top level of its module, reading the bytes with fetch() of a data: URL
// (on Node 20 that first fetch loads Node's whole HTTP client, about 35 ms before the first frame).
// A top-level await cannot be in a CommonJS file, and Emscripten's loader takes an
// `instantiateWasm` hook: the module is compiled and instantiated synchronously from the same
// bytes (its own decoder, `wa`), so the loader is ready when it returns.
const yogaSynchronous = [
  patch("yoga-loader-synchronous", /yoga-layout[\\/]dist[\\/]binaries[\\/]yoga-wasm-base64-esm\.js$/, [
    [
      "loadYoga = loadYoga || {};",
      "loadYoga = loadYoga || {}; loadYoga.instantiateWasm = function (imports, receive) { var instance = new WebAssembly.Instance(new WebAssembly.Module(wa()), imports); receive(instance); return instance.exports; };",
    ],
  ]),
  patch("yoga-index-synchronous", /yoga-layout[\\/]dist[\\/]src[\\/]index\.js$/, [
    ["wrapAssembly(await loadYoga())", "wrapAssembly((() => { const ready = {}; loadYoga(ready); return ready; })())"],
  ]),
];
// Ink awaits react-devtools-core at the top level when DEV=true; it is not installed, so the
// import fails as Ink expects it to (Ink then prints how to install it).
const inkWithoutDevtools = patch("ink-without-devtools", /ink[\\/]build[\\/]reconciler\.js$/, [
  ["await import('./devtools.js');", "throw Object.assign(new Error('react-devtools-core is not installed'), { code: 'ERR_MODULE_NOT_FOUND' });"],
  ["? await loadPackageJson()", "? { name: 'ink', version: undefined }"],
]);
// vega awaits the optional `canvas` package at the top level; Concord draws SVG and does not
// depend on it.
const vegaWithoutCanvas = patch("vega-without-canvas", /vega-canvas[\\/]build[\\/]vega-canvas\.node\.js$/, [
  ["NodeCanvas = await import('canvas');", "NodeCanvas = null;"],
]);
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
  const cellWidth = besideEntry(entry, "ui/cell-width");
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

const libraryChanges = (entry) => [...yogaSynchronous, inkWithoutDevtools, vegaWithoutCanvas, zodEnglishOnly, confWithoutSchemas, stringWidthFastPath(entry)];
const common = {
  bundle: true,
  platform: "node",
  target: "node20",
  // React's production build only (bin/concord.js sets NODE_ENV=production before loading the
  // bundle): the development builds of react-reconciler and react are about 900 KB that every
  // start would otherwise parse before the first frame.
  define: { "process.env.NODE_ENV": '"production"' },
  external: ["node-llama-cpp"],
  // Less to parse before the first frame (names are kept: stack traces still read).
  minifyWhitespace: true,
  minifySyntax: true,
  logLevel: "warning",
};
/** A module under the entry's folder: its TypeScript source when the entry is one, else the build's JavaScript. */
function besideEntry(entry, path) {
  const base = join(dirname(resolve(entry)), path);
  return existsSync(`${base}.ts`) ? `${base}.ts` : `${base}.js`;
}

/**
 * Bundle the program from `entry` (dist/cli.js, or src/cli.tsx: esbuild reads TypeScript too)
 * into `outdir`, a folder two levels under the project (as dist/bundle), so that paths the code
 * finds from its own location (themes/, the project root) hold. Resolves with the path of the
 * module to run (`outdir/cli.js`).
 */
export async function bundleProgram({ entry, outdir }) {
  rmSync(outdir, { recursive: true, force: true });
  const program = join(outdir, "concord.cjs");
  const result = await build({
    ...common,
    entryPoints: [entry],
    outfile: program,
    format: "cjs",
    // import.meta.url is the file's own URL, as in the modules it was bundled from
    // (src/ui/theme.ts finds themes/ from it).
    define: { ...common.define, "import.meta.url": "__concordModuleUrl" },
    banner: { js: "var __concordModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
    plugins: libraryChanges(entry),
    metafile: true,
    write: false,
  });
  // The one import() left in the file (node-llama-cpp, src/backends/local/llama-module.ts) goes
  // through the launcher's import (see launch-bundle.ts); any other would fail at run time.
  const dynamic = Object.values(result.metafile.outputs).flatMap((o) => o.imports.filter((i) => i.kind === "dynamic-import").map((i) => i.path));
  if (dynamic.some((path) => path !== "node-llama-cpp")) throw new Error(`the program imports at run time what the launcher cannot: ${dynamic.join(", ")}`);
  let text = result.outputFiles[0].text;
  const llamaImport = 'import("node-llama-cpp")';
  if (text.split(llamaImport).length - 1 !== dynamic.length) throw new Error(`expected ${dynamic.length} ${llamaImport} in the program`);
  text = text.replaceAll(llamaImport, '__concordImport("node-llama-cpp")');
  // The launcher reads the file as latin1, without decoding (about 15 ms less for a file this size
  // than UTF-8, and V8 keeps it as one byte a character): esbuild writes ASCII except inside regular
  // expression literals, where \u escapes mean the same characters.
  text = text.replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
  mkdirSync(outdir, { recursive: true });
  writeFileSync(program, text);
  await build({
    ...common,
    stdin: {
      contents: [
        `import { fileURLToPath } from "node:url";`,
        `import { launchBundle } from ${JSON.stringify(besideEntry(entry, "app/launch-bundle"))};`,
        `launchBundle(fileURLToPath(new URL("./concord.cjs", import.meta.url)));`,
      ].join("\n"),
      resolveDir: root,
      sourcefile: "cli.js",
    },
    outfile: join(outdir, "cli.js"),
    format: "esm",
  });
  return join(outdir, "cli.js");
}

/**
 * Bundle a script that runs as an ES module (a test's child process): the same library changes,
 * lazy imports split into chunks beside it. Resolves with the bundled entry's path.
 */
export async function bundleScript({ entry, outdir }) {
  rmSync(outdir, { recursive: true, force: true });
  await build({
    ...common,
    entryPoints: [entry],
    outdir,
    splitting: true,
    format: "esm",
    // Libraries written as CommonJS call require() for Node's own modules.
    banner: { js: "import { createRequire as __concordRequire } from 'node:module'; const require = __concordRequire(import.meta.url);" },
    plugins: libraryChanges(entry),
  });
  return join(outdir, basename(entry).replace(/\.[cm]?[jt]sx?$/, ".js"));
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await bundleProgram({ entry: join(root, "dist", "cli.js"), outdir: join(root, "dist", "bundle") });
}
