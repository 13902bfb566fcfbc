// Lint: a few type-aware rules that catch real bugs, and the walls between Concord's floors
// (docs/ARCHITECTURE.md). Style is Prettier's job, not this file's.
import tseslint from "typescript-eslint";
import boundaries from "eslint-plugin-boundaries";

/** The floors, by folder. A file belongs to the first pattern it matches. */
const elements = [
  { type: "app", pattern: "src/app" },
  { type: "cli", pattern: "src/cli" },
  { type: "ui", pattern: "src/ui" },
  { type: "commands", pattern: "src/commands" },
  { type: "state", pattern: "src/state" },
  { type: "engine", pattern: "src/engine" },
  { type: "config", pattern: "src/config" },
  { type: "backends", pattern: "src/backends" },
  { type: "problems", pattern: "src/problems" },
  { type: "report-html", pattern: "src/report-html" },
  { type: "results", pattern: "src/results" },
  { type: "fsutil", pattern: "src/fsutil" },
  { type: "core", pattern: "src/core" },
];

/** The files directly in src/: the entry, and leaves (the error type, the YAML/JSON reader) any floor but core may use. */
const files = [
  { category: "entry", pattern: "src/cli.tsx" },
  { category: "leaf", pattern: "src/*.ts" },
];

/** Who may import whom: a floor imports only from floors below it (docs/ARCHITECTURE.md). */
const below = {
  // The composition root wires everything together.
  app: ["app", "cli", "ui", "commands", "state", "engine", "config", "backends", "problems", "results", "report-html", "fsutil", "core"],
  cli: ["cli", "backends", "core"],
  ui: ["ui", "state", "engine", "config", "problems", "results", "core"],
  commands: ["commands", "cli", "state", "engine", "config", "backends", "problems", "results", "report-html", "fsutil", "core"],
  state: ["state", "engine", "config", "problems", "results", "fsutil", "core"],
  engine: ["engine", "config", "backends", "problems", "results", "fsutil", "core"],
  config: ["config", "backends", "fsutil", "core"],
  backends: ["backends", "fsutil", "core"],
  problems: ["problems", "core"],
  // The HTML pages: a presentation floor beside ui/, drawing results, sessions, relays and traces.
  "report-html": ["report-html", "state", "engine", "backends", "results", "fsutil", "core"],
  results: ["results", "fsutil", "core"],
  // The one verified write path and the lock: plain file-system code every writer shares.
  fsutil: ["fsutil", "core"],
  core: ["core"],
};

/** Packages and built-in modules each floor may not use (I/O and React stay where they belong). */
const io = ["node:fs", "node:fs/promises", "node:child_process", "node:net", "node:http", "node:https", "fs", "fs/promises"];
const forbiddenModules = [
  { from: "core", modules: ["node:*", "react", "ink", "zustand", "conf", "openai", "node-llama-cpp", "write-file-atomic", "csv-parse", "yaml"] },
  { from: "ui", modules: [...io, "openai", "node-llama-cpp"] },
  { from: "engine", modules: ["react", "ink", "zustand"] },
  { from: "backends", modules: ["react", "ink", "zustand", "conf"] },
];

/**
 * Imports that still climb a floor, in rooms being rebuilt (the composition root takes the model
 * opening out of ui/ and engine/, the store stops borrowing ui/ helpers, screens read disk through
 * ports, the openai backend is split). Each entry is allowed until its file is rebuilt; then delete it.
 */
const pending = [
  // The profile types (Flavor, PrefillMethod, ModelProfile) still live in config/profile.ts.
  { file: "src/backends/openai/*.ts", to: { element: { type: "config" } } },
  // `concord` with no command opens the interface: the one command that launches the composition root.
  { file: "src/commands/open.ts", to: { element: { type: "app" } } },
  { file: "src/backends/openai.ts", to: { element: { type: "config" } } },
  // The download progress bar the default models report through (cli/progress.ts).
  { file: "src/engine/models.ts", to: { element: { type: "cli" } } },
  // Theme files are read where the theme is resolved; to move behind a port.
  { file: "src/ui/theme.ts", to: { module: { source: "node:fs" } } },
];

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "sessions/**", "test/fixtures/**", "**/*.js", "**/*.mjs"] },
  {
    files: ["src/**/*.{ts,tsx}", "test/**/*.{ts,tsx}", "bench/**/*.{ts,tsx}"],
    languageOptions: {
      parser: tseslint.parser,
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { "@typescript-eslint": tseslint.plugin },
    linterOptions: { reportUnusedDisableDirectives: "error" },
    rules: {
      "@typescript-eslint/no-floating-promises": [
        "error",
        // node:test's test() and describe() return promises the runner itself awaits.
        {
          allowForKnownSafeCalls: [
            { from: "package", package: "node:test", name: ["test", "it", "describe", "suite", "before", "after", "beforeEach", "afterEach"] },
          ],
        },
      ],
      "require-yield": "error",
      "@typescript-eslint/switch-exhaustiveness-check": ["error", { considerDefaultExhaustiveForUnions: true }],
    },
  },
  {
    files: ["src/**/*.{ts,tsx}"],
    plugins: { boundaries },
    settings: {
      "boundaries/elements": elements,
      "boundaries/files": files,
      "import/resolver": { typescript: { project: "tsconfig.json" } },
    },
    rules: {
      "boundaries/dependencies": [
        "error",
        {
          default: "disallow",
          checkAllOrigins: true,
          checkUnknownLocals: true,
          policies: [
            ...Object.entries(below).map(([from, to]) => ({
              from: { element: { type: from } },
              allow: { to: { element: { types: { anyOf: to } } } },
            })),
            { allow: { to: { module: { origin: ["external", "core"] } } } },
            { from: { file: { categories: "entry" } }, allow: { to: { module: { origin: "local" } } } },
            { from: { element: { type: "!core" } }, allow: { to: { file: { categories: "leaf" } } } },
            { from: { file: { categories: "leaf" } }, allow: { to: { file: { categories: "leaf" } } } },
            ...forbiddenModules.map(({ from, modules }) => ({
              from: { element: { type: from } },
              disallow: { to: { module: { source: modules } } },
            })),
            ...pending.map(({ file, to }) => ({ from: { file: { path: file } }, allow: { to } })),
          ],
        },
      ],
    },
  },
  // Pending too (see above): this screen's disk reads move behind a port.
  { files: ["src/ui/screens/Results.tsx"], rules: { "@typescript-eslint/no-floating-promises": "off" } },
);
