// The interactive entry: reads the environment once, opens the models of one source, makes the
// store's ports, and renders the App. Not a terminal: one line pointing to the headless
// commands, exit code 2. With nothing configured it opens the Race on the builtin problem
// demo-1 with the embedded model (CONCORD_MODEL / --model, else the default model set).
import { basename, isAbsolute, relative } from "node:path";
import { render } from "ink";
import type { Problem } from "../core/types.js";
import { openSettings, type SettingsStore } from "../config/settings.js";
import { DEFAULT_MODELS_SOURCE, openModels, modelSourceOf, type ModelSource, type OpenedModels } from "../engine/models.js";
import { startupModels } from "../backends/first-run.js";
import { downloadReporter } from "../cli/progress.js";
import { loadRecording, type Recording } from "../backends/replay.js";
import { builtinProblems } from "../problems/builtin.js";
import { oneLine, UserError } from "../errors.js";
import { fileCatalog, setFiles, sharedDatasetFiles } from "../state/catalog.js";
import { createAutosaver, loadSession, resolveSessionsDir, writeSessionExports } from "../state/sessions.js";
import type { RecordingPort } from "../ui/ports.js";
import { createConcordStore } from "../state/store.js";
import { plain } from "../state/notices.js";
import { traceProblem, traceProblems, traceReplayOf, type TraceReplay } from "../engine/trace-replay.js";
import { App } from "../ui/App.js";
import { withOverrides } from "../ui/keys.js";
import { loadTheme } from "../ui/theme.js";
import { createSettingsPort } from "./ports/settings-port.js";
import { screenPorts } from "./ports/screen-ports.js";
import { raceFactory, relayPort, type RaceSetup } from "./race.js";
import { replayKind } from "./replay-file.js";

export interface LaunchOptions {
  /** --model: one file in every role (wins over CONCORD_MODEL). */
  modelPath?: string;
  /** --models: a models file, as the headless commands take it. */
  modelsFile?: string;
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
  /** In a trace recording: the problem to replay (its tag or Row Number). */
  problem?: string;
  /** The environment, read once by the caller (default: this process's). */
  env?: NodeJS.ProcessEnv;
}

/**
 * Ink's render options for the interface. The store already batches token events (one flush
 * per 40 ms), so Ink's own frame cap only delays keypress feedback: a key landing just after a
 * frame would wait for the next slot. Benchmarks render with the same options.
 */
export const RENDER_OPTIONS = { exitOnCtrlC: false, maxFps: 120 } as const;

export const NOT_A_TTY =
  "concord: the interactive interface needs a terminal (stdin and stdout must be a TTY); for scripts use the headless commands, e.g. `concord ensemble --help`";

function tryOpenSettings(env: NodeJS.ProcessEnv): SettingsStore | undefined {
  try {
    return openSettings({ env });
  } catch (err) {
    process.stderr.write(`concord: settings ignored: ${oneLine(err)}\n`);
    return undefined;
  }
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

/** What to open first, and the models it runs on. */
async function startOf(opts: LaunchOptions, env: NodeJS.ProcessEnv) {
  const file = opts.session ?? opts.replay;
  const kind = opts.session ? "session" : opts.replay ? await replayKind(opts.replay) : undefined;
  if (file && kind === "session") {
    const resume = await loadSession(file);
    return { resume, resumeFile: file, source: withDemoTargets(modelSourceOf({ model: opts.modelPath, modelsFile: opts.modelsFile, env })) };
  }
  if (file && kind === "recording") {
    const rec = await loadRecording(file);
    const tr = traceReplayOf(rec, opts.problem);
    if (!tr) return { source: { kind: "recording", file } as ModelSource, replayOnly: true };
    const setup = traceSetup(tr);
    const opened = await traceProblem(rec, tr);
    return {
      source: { kind: "trace", recording: rec, trace: tr } as ModelSource,
      setup,
      traceProblem: opened,
      trace: { recording: rec, replay: tr },
      held: heldProblems(rec, tr.problemTag, opened),
      replayOnly: true,
    };
  }
  return { source: withDemoTargets(modelSourceOf({ model: opts.modelPath, modelsFile: opts.modelsFile, env })) };
}

/** A trace's race: its candidates per step, its mode, and as many steps as it recorded. */
const traceSetup = (tr: TraceReplay): RaceSetup => ({ options: { k: tr.k, mode: tr.mode, budget: { maxSentences: tr.steps } }, trace: true });

/**
 * Every problem a trace recording holds, for the Problems screen: the one replayed now, and an
 * entry for each other one that the recording port opens in its place (its question is read from
 * the dataset only then).
 */
function heldProblems(rec: Recording, openedTag: string, opened: Problem): Problem[] {
  return traceProblems(rec).map((h): Problem => {
    if (h.tag === openedTag) return { ...opened, meta: { ...opened.meta, traceTag: h.tag } };
    const id = h.rowNumber ?? h.tag;
    return {
      id,
      source: "recording",
      messages: [{ role: "user", content: `trace ${h.tag}, held in this recording: Enter replays it here` }],
      reference: { kind: "free", value: "" },
      meta: { traceTag: h.tag },
    };
  });
}

/**
 * Opening another problem of a trace recording: its question from the dataset, and models that
 * serve that problem's recorded exchanges. Each problem is made ready once and kept.
 */
interface HeldRace {
  problem: Problem;
  models: OpenedModels;
  setup: RaceSetup;
}

function recordingPort(
  rec: Recording,
  first: HeldRace & { tag: string },
  use: (models: OpenedModels, setup: RaceSetup) => void,
  env: NodeJS.ProcessEnv,
): RecordingPort & { close(): Promise<void> } {
  const ready = new Map<string, Promise<HeldRace>>([[first.tag, Promise.resolve(first)]]);
  const prepare = async (tag: string) => {
    const tr = traceReplayOf(rec, tag)!;
    const problem = await traceProblem(rec, tr);
    const models = openModels({ source: { kind: "trace", recording: rec, trace: tr }, env, needRace: true, download: false });
    return { problem: { ...problem, meta: { ...problem.meta, traceTag: tag } }, models, setup: traceSetup(tr) };
  };
  return {
    open: async (held) => {
      const tag = String(held.meta.traceTag);
      let entry = ready.get(tag);
      if (!entry) ready.set(tag, (entry = prepare(tag)));
      const r = await entry;
      use(r.models, r.setup);
      return r.problem;
    },
    close: async () => {
      for (const entry of ready.values()) await (await entry.catch(() => undefined))?.models.close();
    },
  };
}

/** The configured models, for going live from a recording; none when their configuration is broken. */
function liveModels(opts: LaunchOptions, env: NodeJS.ProcessEnv) {
  try {
    return openModels({
      source: withDemoTargets(modelSourceOf({ model: opts.modelPath, modelsFile: opts.modelsFile, env })),
      env,
      needRace: true,
      download: false,
    });
  } catch (err) {
    process.stderr.write(`concord: going live is not available: ${oneLine(err)}\n`);
    return undefined;
  }
}

/** With one model file, the interface adds two sampled targets on it, so the targets panel
 * shows answers that can differ and a consistency (labelled: same file, seed n). */
function withDemoTargets(source: ModelSource): ModelSource {
  return source.kind === "single" ? { ...source, sampledTargets: 2 } : source;
}

async function run(opts: LaunchOptions): Promise<void> {
  const env = { ...(opts.env ?? process.env) };
  const settings = tryOpenSettings(env);
  const savedTheme = settings?.theme();
  const theme = loadTheme({ theme: opts.theme ?? (savedTheme && savedTheme !== "default" ? savedTheme : undefined), env });
  const bindings = withOverrides(settings?.keyOverrides() ?? {});
  const sessionsDir = resolveSessionsDir({ dir: opts.sessionsDir, env, setting: settings?.snapshot().sessionsDir });

  const start = await startOf(opts, env);
  const autosaver = createAutosaver(sessionsDir);
  // A session resumed live is locked before any model is opened: a second interface on it is
  // refused here, in one line naming the holder, before anything is accepted in either.
  if (start.resume && opts.session) autosaver.claim(start.resumeFile!);
  // Downloads report nothing on stderr once the interface is drawn: it is the interface's screen.
  let models = openModels({ source: start.source, env, needRace: true, download: false });
  // A line under the tab bar while the demo model stands in for the defaults.
  let notice: string | undefined;
  if (models.source === DEFAULT_MODELS_SOURCE) {
    // Before the interface draws: a first download shows its progress bar on the terminal;
    // offline, the demo model Concord writes itself takes every role at once.
    await models.close();
    const bar = downloadReporter();
    const startup = await startupModels({ env, onProgress: (p) => bar.onProgress(p), onDownloadEnd: (ok) => bar.end(ok) });
    models = openModels({ source: { kind: "defaults", specs: startup.specs }, env, needRace: true, download: false });
    notice = startup.notice;
  }
  // Paths under the current folder are shown short: the status line is one row.
  const shown = (p: string) => {
    const r = relative(process.cwd(), p);
    return r && !r.startsWith("..") && !isAbsolute(r) ? r : p;
  };
  // Going live from a recording: the configured models (opened only when first used).
  let live = start.replayOnly ? liveModels(opts, env) : undefined;
  // A change on the Models & settings screen reaches the next race without a restart: the
  // configured models are opened again. The earlier ones stay open until exit, since a race
  // may still be running on them.
  const earlier: OpenedModels[] = [];
  let onReopened = () => {};
  const reopen = (): string | undefined => {
    let next: OpenedModels;
    try {
      next = openModels({
        source: withDemoTargets(modelSourceOf({ model: opts.modelPath, modelsFile: opts.modelsFile, env })),
        env,
        needRace: true,
        download: false,
      });
    } catch (err) {
      return oneLine(err);
    }
    // Roles still incomplete: the settings name no race yet, so the models in use stay.
    if (next.source === DEFAULT_MODELS_SOURCE) {
      void next.close();
      return "races keep their models until settings name a generator and an evaluator";
    }
    if (start.replayOnly) {
      if (live) earlier.push(live);
      live = next;
    } else {
      earlier.push(models);
      models = next;
    }
    onReopened();
    return undefined;
  };
  const current = (pick: () => OpenedModels): OpenedModels => ({
    get profiles() {
      return pick().profiles;
    },
    get roles() {
      return pick().roles;
    },
    get source() {
      return pick().source;
    },
    get: (name, role) => pick().get(name, role),
    close: () => pick().close(),
  });
  const raceModels = current(() => models);
  // Another problem of a trace recording races on the models that serve its exchanges.
  let setup = start.setup;
  const recording =
    "trace" in start && start.trace
      ? recordingPort(
          start.trace.recording,
          { tag: start.trace.replay.problemTag, problem: start.traceProblem!, models, setup: start.setup! },
          (m, s) => {
            models = m;
            setup = s;
          },
          env,
        )
      : undefined;
  const store = createConcordStore({
    createRace: (problem, chain, prefer) => raceFactory(raceModels, setup)(problem, chain, prefer),
    createLiveRace: live ? raceFactory(current(() => live!)) : undefined,
    // A recording answers only what it recorded: no relay runs on it.
    relay: start.replayOnly ? undefined : relayPort(raceModels),
    save: (s) => autosaver.save(s),
    export: async (s) => {
      const out = await writeSessionExports(s, sessionsDir);
      return [shown(out.text), shown(out.markdown)];
    },
  });
  const demo = builtinProblems();
  const named = setFiles(opts.sets ?? [], ["demo"]);
  const shared = sharedDatasetFiles().filter((f) => !named.some((n) => n.name === f.name));
  // A recording's problems come first: which it holds, and how to replay each.
  const held = "held" in start && start.held && start.held.length > 1 ? { [`recording ${basename(opts.replay ?? "")}`]: start.held } : {};
  const catalog = fileCatalog({ memory: { ...held, demo }, files: [...named, ...shared] });

  // A rejection nobody awaited (work stopped by a cancel) must not take the interface down
  // with a stack trace: a cancel is expected, anything else becomes a notice.
  const onUnhandled = (err: unknown) => {
    if ((err as { name?: string })?.name === "AbortError") return;
    store.getState().notify(plain(`error: ${oneLine(err)}`));
  };
  process.on("unhandledRejection", onUnhandled);

  const ports = screenPorts({
    catalog,
    recording,
    sessionsDir,
    claimSession: (f) => autosaver.claim(f),
    settings: settings ? createSettingsPort(settings, start.replayOnly ? current(() => live ?? models) : raceModels, reopen) : undefined,
    resultsDirs: opts.resultsDirs,
  });
  const app = () => <App store={store} theme={theme} bindings={bindings} ports={ports} notice={notice} />;
  const instance = render(app(), RENDER_OPTIONS);
  // Once the settings name real models, the demo model's notice no longer holds.
  onReopened = () => {
    if (notice === undefined) return;
    notice = undefined;
    instance.rerender(app());
  };

  const first: Problem = start.traceProblem ?? demo.find((p) => p.id === "demo-1") ?? demo[0];
  if (start.resume) {
    // `concord replay <session>` steps through the saved chain as recorded (L goes on live);
    // `--session` resumes it live at once.
    const r = start.resume;
    const replay = !opts.session && !!opts.replay;
    void store.getState().openProblem(r.problem, {
      chain: r.chain,
      targets: r.targets,
      tree: r.tree,
      roles: r.roles,
      replay,
      info: { id: r.id, file: start.resumeFile, createdAt: r.createdAt },
    });
  } else {
    void store.getState().openProblem(first);
  }

  try {
    await instance.waitUntilExit();
    await store.getState().dispose();
    await autosaver.idle();
    // A recording's models, the first problem's among them, are closed by its port.
    await (recording ?? models).close();
    await live?.close();
    for (const m of earlier) await m.close();
  } finally {
    process.off("unhandledRejection", onUnhandled);
  }
}
