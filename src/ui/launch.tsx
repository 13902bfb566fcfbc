// Opens the interface. Not a terminal: one line pointing to the headless commands, exit code 2.
// With nothing configured it opens the Race on the builtin problem demo-1 with the embedded
// model (CONCORD_MODEL / --model, else the default model set).
import React from "react";
import { isAbsolute, relative } from "node:path";
import { render } from "ink";
import type { Chain } from "../core/chain.js";
import type { Problem } from "../core/types.js";
import type { ModelProfile, Roles as ConfigRoles } from "../config/profile.js";
import { openSettings, type SettingsStore } from "../config/settings.js";
import { ChainBuilder, type EnsembleOptions } from "../engine/ensemble.js";
import { TargetPanel } from "../engine/targets.js";
import { JudgeScorer, runRelay } from "../engine/relay.js";
import { backendFor, DEFAULT_MODELS_SOURCE, handleFor, openModels, type ModelHandle, type OpenedModels } from "../engine/models.js";
import { loadRecording } from "../backends/replay.js";
import type { DefaultModelSpecs } from "../backends/models.js";
import { startupModels } from "../backends/first-run.js";
import { downloadReporter } from "../cli/progress.js";
import { builtinProblems } from "../problems/builtin.js";
import { oneLine, UserError } from "../errors.js";
import { fileCatalog, setFiles, sharedDatasetFiles } from "../state/catalog.js";
import { createAutosaver, loadSession, resolveSessionsDir, writeSessionExports } from "../state/sessions.js";
import { createConcordStore, type RaceHandle, type RelayPort } from "../state/store.js";
import { NOT_SCORED, traceHandle, traceProblem, traceReplayOf, type TraceReplay } from "../engine/trace-replay.js";
import { App } from "./App.js";
import { withOverrides } from "./keys.js";
import { loadTheme } from "./theme.js";
import { createSettingsPort } from "./settings-port.js";

export interface LaunchOptions {
  modelPath?: string;
  /** A session file or a backend recording to replay. */
  replay?: string;
  /** A session file to resume. */
  session?: string;
  sessionsDir?: string;
  theme?: string;
  /** Problem set files listed on the Problems screen (besides the demo set and shared data). */
  sets?: string[];
  /** Results folders listed on the Results screen (besides ./results/*). */
  resultsDirs?: string[];
}

/**
 * Ink's render options for the interface. The store already batches token events (one flush
 * per 40 ms), so Ink's own frame cap only delays keypress feedback: a key landing just after a
 * frame would wait for the next slot. Benchmarks render with the same options.
 */
export const RENDER_OPTIONS = { exitOnCtrlC: false, maxFps: 120 } as const;

export const NOT_A_TTY =
  "concord: the interactive interface needs a terminal (stdin and stdout must be a TTY); for scripts use the headless commands, e.g. `concord ensemble --help`";

function tryOpenSettings(): SettingsStore | undefined {
  try {
    return openSettings();
  } catch (err) {
    process.stderr.write(`concord: settings ignored: ${oneLine(err)}\n`);
    return undefined;
  }
}

/** Models when the user configured none: the embedded model (the default set, or the demo model) in every role. */
function defaultModels(specs: DefaultModelSpecs): OpenedModels {
  const profiles: ModelProfile[] = specs.models.map((m) => ({ name: m.name, backend: "local", model: m.spec.replace(/^.*[\\/]/, ""), path: m.spec }));
  const made = new Map<string, Promise<ModelHandle>>();
  const roles: ConfigRoles = { generators: specs.roles.generators, evaluators: specs.roles.evaluators, targets: specs.roles.targets, continuers: specs.roles.continuers };
  return {
    profiles,
    roles,
    source: specs.source,
    get(name) {
      const p = profiles.find((x) => x.name === name);
      if (!p) return Promise.reject(new UserError(`no model named "${name}"`));
      let h = made.get(name);
      if (!h) made.set(name, (h = backendFor(p).then((b) => handleFor(p, b))));
      return h;
    },
    async close() {
      await Promise.allSettled([...made.values()].map(async (h) => (await h).backend.close()));
    },
  };
}

/** Every role served by one replay backend (a recording made by Concord's recorder). */
function replayModels(recording: string): OpenedModels {
  const p: ModelProfile = { name: "replay", backend: "replay", model: "replay", recording };
  let h: Promise<ModelHandle> | undefined;
  return {
    profiles: [p],
    roles: { generators: ["replay"], evaluators: ["replay"], targets: ["replay"], continuers: ["replay"] },
    source: recording,
    get: () => (h ??= backendFor(p).then((b) => handleFor(p, b))),
    async close() {
      if (h) await (await h).backend.close();
    },
  };
}

/** The recorded generators and evaluator of an imported trace, each on its own replay backend. */
function traceModels(rec: Awaited<ReturnType<typeof loadRecording>>, tr: TraceReplay): OpenedModels {
  const names = [...tr.generators, tr.evaluator];
  const profiles: ModelProfile[] = names.map((name) => ({ name, backend: "replay", model: name, recording: rec.file }));
  const made = new Map<string, ModelHandle>();
  return {
    profiles,
    // A trace recorded no target answers: the race runs without a targets panel.
    roles: { generators: tr.generators, evaluators: [tr.evaluator], targets: [], continuers: [] },
    source: rec.file,
    async get(name) {
      if (!names.includes(name)) throw new UserError(`no model named "${name}" in the recording ${rec.file}`);
      let h = made.get(name);
      if (!h) made.set(name, (h = traceHandle(rec, tr, name)));
      return h;
    },
    async close() {},
  };
}

export async function launchUI(opts: LaunchOptions = {}): Promise<void> {
  if (!process.stdin.isTTY || !process.stdout.isTTY) {
    process.stderr.write(NOT_A_TTY + "\n");
    process.exitCode = 2;
    return;
  }
  try {
    await run(opts);
  } catch (err) {
    process.stderr.write(`concord: ${oneLine(err)}\n`);
    process.exitCode = err instanceof UserError ? 2 : 1;
  }
}

async function run(opts: LaunchOptions): Promise<void> {
  const env = { ...process.env };
  if (opts.modelPath) env.CONCORD_MODEL = opts.modelPath;
  const settings = tryOpenSettings();
  const savedTheme = settings?.theme();
  const theme = loadTheme({ theme: opts.theme ?? (savedTheme && savedTheme !== "default" ? savedTheme : undefined), env });
  const bindings = withOverrides(settings?.keyOverrides() ?? {});
  const sessionsDir = resolveSessionsDir({ dir: opts.sessionsDir, env, setting: settings?.snapshot().sessionsDir });

  // What to open first: a session (resume/replay), or the demo problem.
  let resume: Awaited<ReturnType<typeof loadSession>> | undefined;
  let resumeFile: string | undefined;
  let recording: string | undefined;
  const target = opts.session ?? opts.replay;
  if (target) {
    try {
      resume = await loadSession(target);
      resumeFile = target;
    } catch (err) {
      if (opts.session) throw err;
      recording = target; // not a session: a backend recording to replay
    }
  }

  let models: OpenedModels;
  let raceOptions: Partial<EnsembleOptions> = {};
  let traceStart: { problem: Problem } | undefined;
  // A line under the tab bar while the demo model stands in for the defaults.
  let notice: string | undefined;
  if (recording) {
    const rec = await loadRecording(recording);
    const tr = traceReplayOf(rec);
    if (tr) {
      models = traceModels(rec, tr);
      raceOptions = { k: tr.k, mode: tr.mode, budget: { maxSentences: tr.steps } };
      traceStart = { problem: await traceProblem(rec, tr) };
    } else models = replayModels(recording);
  } else {
    models = openModels({ env });
    if (models.source === DEFAULT_MODELS_SOURCE || !models.roles.generators.length || !models.roles.evaluators.length) {
      await models.close();
      // Before the interface draws: a first download shows its progress bar on the terminal.
      const bar = downloadReporter();
      const startup = await startupModels({ env, onProgress: (p) => bar.onProgress(p), onDownloadEnd: (ok) => bar.end(ok) });
      models = defaultModels(startup.specs);
      notice = startup.notice;
    }
  }

  const createRace = async (problem: Problem, chain?: Chain): Promise<RaceHandle> => {
    const get = (names: string[]) => Promise.all(names.map((n) => models.get(n)));
    const [generators, evaluators, targets] = await Promise.all([get(models.roles.generators), get(models.roles.evaluators), get(models.roles.targets)]);
    const builder = new ChainBuilder({ k: 3, ...raceOptions, problem, generators, evaluators, chain });
    const panel = targets.length ? new TargetPanel({ problem, targets }) : undefined;
    const off = panel?.attach(builder);
    return {
      builder,
      targets: panel,
      roles: { generators: generators.map((g) => g.name), evaluators: evaluators.map((e) => e.name), targets: targets.map((t) => t.name), models: Object.fromEntries(models.profiles.map((p) => [p.name, p.path ?? p.model])) },
      close: async () => {
        off?.();
        await panel?.cancel();
      },
      ...(traceStart ? { ignoreError: (m: string) => m.includes(NOT_SCORED) } : {}),
    };
  };

  // Relay: the configured initiator (else the first generator) and continuers (else the targets).
  const relayRoles = () => ({
    initiator: models.roles.initiator ?? models.roles.generators[0],
    continuers: models.roles.continuers?.length ? models.roles.continuers : models.roles.targets,
  });
  const relay: RelayPort | undefined = recording
    ? undefined
    : {
        describe: relayRoles,
        run: async (problem, req) => {
          const roles = relayRoles();
          if (!roles.initiator) throw new UserError("no initiator: set roles.initiator (or a generator) in Models & settings");
          if (!roles.continuers.length) throw new UserError("no continuers: set roles.continuers (or targets) in Models & settings");
          const [initiator, continuers, judge] = await Promise.all([
            models.get(roles.initiator),
            Promise.all(roles.continuers.map((n) => models.get(n))),
            models.roles.evaluators[0] ? models.get(models.roles.evaluators[0]) : Promise.resolve(undefined),
          ]);
          return runRelay({ problem, initiator, continuers, cuts: req.cuts, signal: req.signal, onEvent: req.onEvent, scorer: judge ? new JudgeScorer(judge) : undefined });
        },
      };

  const autosaver = createAutosaver(sessionsDir);
  // Paths under the current folder are shown short: the status line is one row.
  const shown = (p: string) => {
    const r = relative(process.cwd(), p);
    return r && !r.startsWith("..") && !isAbsolute(r) ? r : p;
  };
  const store = createConcordStore({
    createRace,
    relay,
    save: (s) => autosaver.save(s),
    export: async (s) => {
      const out = await writeSessionExports(s, sessionsDir);
      return [shown(out.text), shown(out.markdown)];
    },
  });
  const demo = builtinProblems();
  const named = setFiles(opts.sets ?? [], ["demo"]);
  const shared = sharedDatasetFiles().filter((f) => !named.some((n) => n.name === f.name));
  const catalog = fileCatalog({ memory: { demo }, files: [...named, ...shared] });

  // A rejection nobody awaited (work stopped by a cancel) must not take the interface down
  // with a stack trace: a cancel is expected, anything else becomes the status line.
  const onUnhandled = (err: unknown) => {
    if ((err as { name?: string })?.name === "AbortError") return;
    store.getState().setStatus(`error: ${oneLine(err)}`);
  };
  process.on("unhandledRejection", onUnhandled);

  const instance = render(
    <App
      store={store}
      theme={theme}
      bindings={bindings}
      catalog={catalog}
      sessionsDir={sessionsDir}
      settings={settings ? createSettingsPort(settings, models) : undefined}
      resultsDirs={opts.resultsDirs}
      notice={notice}
    />,
    RENDER_OPTIONS,
  );

  if (traceStart) {
    void store.getState().openProblem(traceStart.problem);
  } else if (resume) {
    // `concord replay <session>` steps through the saved chain as recorded (L goes on live);
    // `--session` resumes it live at once.
    const replay = !opts.session && !!opts.replay;
    void store.getState().openProblem(resume.problem, { chain: resume.chain, targets: resume.targets, roles: resume.roles, replay, info: { id: resume.id, file: resumeFile, createdAt: resume.createdAt } });
  } else {
    const first = demo.find((p) => p.id === "demo-1") ?? demo[0];
    void store.getState().openProblem(first);
  }

  try {
    await instance.waitUntilExit();
    await store.getState().dispose();
    await autosaver.idle();
    await models.close();
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
}
