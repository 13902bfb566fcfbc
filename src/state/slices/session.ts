// The session: opening a problem (live, resumed or replayed), going live from a replay,
// saving after every change worth keeping, exporting, and closing.
import type { StateCreator } from "zustand/vanilla";
import type { Problem } from "../../core/types.js";
import type { EngineListener } from "../../engine/events.js";
import { oneLine } from "../../errors.js";
import { count } from "../../core/words.js";
import { emptyTree, moveTo, treeFromChain } from "../../core/tree.js";
import { EMPTY_TARGETS, copyChain, targetsOnly, targetsUpTo } from "../apply-events.js";
import { act, failure, info } from "../notices.js";
import { SessionReplay } from "../session-replay.js";
import type { ConcordData, ConcordState, RaceHandle, Roles, SessionActions, SessionInfo, SessionSnapshot, SliceDeps } from "../types.js";
import { closeRace, refreshTargets } from "./engine-port.js";

export function emptyData(): ConcordData {
  return {
    screen: "race",
    overlay: null,
    showTargets: true,
    showWhy: false,
    revealReference: false,
    roles: { generators: [], evaluators: [], targets: [] },
    chain: { sentences: [], finished: false },
    tree: emptyTree(),
    treeView: {},
    race: { step: 0, lanes: [], awaiting: false, generating: false },
    selected: 0,
    targets: EMPTY_TARGETS,
    auto: { mode: "off" },
    autoDrive: { seq: 0, live: false, pauseWanted: false },
    paused: false,
    notices: {},
    errors: [],
    loading: false,
    relay: { status: "idle", progress: "" },
    stepsSeen: 0,
    opening: 0,
    disposed: false,
    live: false,
  };
}

/** What differs between the models a session was saved with and those it resumes on, in words. */
export function modelsChanged(saved: Roles | undefined, now: Roles): string | undefined {
  if (!saved) return undefined;
  const parts: string[] = [];
  for (const key of ["generators", "evaluators", "targets"] as const) {
    const a = saved[key].join(",");
    const b = now[key].join(",");
    if (a !== b) parts.push(`${key} ${a || "-"} → ${b || "-"}`);
  }
  return parts.length ? `resumed on other models: ${parts.join("; ")}` : undefined;
}

export function snapshotOf(s: ConcordData): SessionSnapshot | undefined {
  if (!s.problem || !s.session) return undefined;
  return {
    info: s.session,
    problem: s.problem,
    roles: s.roles,
    chain: s.chain,
    targets: { answers: s.targets.log, consistency: s.targets.history },
    tree: s.tree,
  };
}

/** A session id: problem and start time, safe as a file name. */
export function sessionId(problem: Problem, at: Date): string {
  const stamp = at
    .toISOString()
    .replace(/[:.]/g, "-")
    .replace(/-\d{3}Z$/, "Z");
  return `${problem.source}-${problem.id}-${stamp}`.replace(/[^A-Za-z0-9._-]+/g, "_").slice(0, 120);
}

export function sessionSlice(deps: SliceDeps, unsubs: Array<() => void>): StateCreator<ConcordState, [], [], SessionActions> {
  const { opts, now } = deps;
  return (set, get) => {
    const say = (n: Parameters<ConcordState["notify"]>[0]) => get().notify(n, "race");
    const noModels = () => say(info`no models are configured: see Models & settings (${act("screen-settings")})`);
    /** The races this store opens: the recording's, or the configured models' once gone live. */
    const factory = () => (get().live && opts.createLiveRace ? opts.createLiveRace : opts.createRace);
    async function closeHandle() {
      unsubs.splice(0).forEach((u) => u());
      const h = get().handle;
      set({ handle: undefined, replayer: undefined });
      if (h) await closeRace(h);
    }

    return {
      openProblem: async (problem, resume) => {
        const replaying = resume?.replay && resume.chain ? new SessionReplay(resume.chain, resume.targets) : undefined;
        if (!replaying && !factory()) return noModels();
        get().flush();
        // A relay of the previous problem is of no use any more.
        get().relayRun?.abort();
        await closeHandle();
        const info0: SessionInfo = resume?.info ?? { id: sessionId(problem, now()), createdAt: now().toISOString() };
        const startChain = replaying ? replaying.getChain() : resume?.chain ? copyChain(resume.chain) : { sentences: [], finished: false };
        // A replay starts at the root of the tree it replays: the recorded chain is its main
        // branch, and every other branch of the session stays in it.
        const savedTree = resume?.tree ?? (resume?.chain ? treeFromChain(resume.chain, resume.targets) : emptyTree());
        const startTree = replaying ? moveTo(savedTree, savedTree.root) : savedTree;
        const mine = get().opening + 1;
        const keep = get();
        set({
          ...emptyData(),
          screen: "race",
          showTargets: keep.showTargets,
          notices: {
            ...keep.notices,
            race: replaying ? info`replaying ${problem.source}/${problem.id}...` : info`loading models for ${problem.source}/${problem.id}...`,
          },
          errors: keep.errors,
          autoDrive: { seq: keep.autoDrive.seq + 1, live: false, pauseWanted: false },
          live: keep.live,
          stepsSeen: keep.stepsSeen,
          opening: mine,
          problem,
          loading: true,
          chain: startChain,
          tree: startTree,
          // A replay brings the saved answers back as its chain reaches their lengths.
          targets:
            resume?.targets && !replaying
              ? targetsUpTo(
                  { answers: {}, pending: {}, log: [...resume.targets.answers], valid: [...resume.targets.answers], history: [...resume.targets.consistency] },
                  startChain.sentences.length,
                )
              : EMPTY_TARGETS,
          session: info0,
          replay: replaying ? { total: replaying.total } : undefined,
        });
        let made: RaceHandle;
        try {
          made = replaying
            ? { builder: replaying, roles: resume?.roles ?? { generators: [], evaluators: [], targets: [] } }
            : await factory()!(problem, resume?.chain, resume?.roles);
        } catch (err) {
          if (mine !== get().opening) return;
          set({ loading: false });
          get().fail("could not start the race", err);
          return;
        }
        // Another problem was opened meanwhile (or the interface closed): this race is not shown,
        // and two races must never feed the same lanes.
        if (mine !== get().opening || get().disposed) {
          await closeRace(made);
          return;
        }
        await closeHandle();
        const quiet = made.ignoreError?.bind(made);
        const listener: EngineListener = (ev) => {
          if (ev.type === "error" && quiet?.(ev.message)) return;
          get().dispatch(ev);
        };
        for (const src of [made.builder, made.targets]) {
          const off = src?.on(listener);
          if (typeof off === "function") unsubs.push(off);
        }
        const chain = copyChain(made.builder.getChain());
        // Answers of targets that are not in this race stay in the session's log, out of the panel:
        // they never count towards the new targets' agreement.
        if (!replaying) set({ targets: targetsOnly(get().targets, made.roles.targets) });
        set({
          handle: made,
          replayer: replaying,
          roles: made.roles,
          loading: false,
          chain,
          modelsChanged: replaying ? undefined : modelsChanged(resume?.roles, made.roles),
        });
        say(
          replaying
            ? info`replay of ${count(replaying.total, "sentence")}: ${act("accept-pick")} or ${act("choose")} follows the record, ${act("run-end")} replays to the end, ${act("go-live")} continues live`
            : resume?.chain
              ? info`resumed (live): ${count(chain.sentences.length, "sentence")}`
              : info`ready`,
        );
        // A resumed chain was last asked about (if at all) before it was saved: ask again.
        if (!replaying && resume?.chain) refreshTargets(get);
        if (!chain.finished) get().startStep();
      },
      goLive: async () => {
        const { problem, chain, targets, replay, handle } = get();
        const fromRecording = !!handle?.recording && !!opts.createLiveRace;
        if ((!replay && !fromRecording) || !problem) return say(info`not a replay: the race is already live`);
        if (!factory()) return noModels();
        get().flush();
        // From a recording: the chain so far goes on with the configured models.
        if (fromRecording) set({ live: true });
        // A new session: the replayed file keeps its whole chain.
        await get().openProblem(problem, { chain: copyChain(chain), targets: { answers: targets.valid, consistency: targets.history }, tree: get().tree });
      },
      exportSession: async () => {
        if (!opts.export) return say(info`export is not available here`);
        get().flush();
        const snap = snapshotOf(get());
        if (!snap) return say(info`nothing to export: open a problem first (${act("screen-problems")})`);
        try {
          const [first = "", ...rest] = await opts.export(snap);
          // Files beside each other are named once: "x/id.txt and .md" fits the one status line.
          const stem = first.replace(/\.[^./\\]+$/, "");
          const more = rest.map((p) => (p.startsWith(stem + ".") ? p.slice(stem.length) : p));
          say(info`exported ${[first, ...more].join(" and ")}`);
        } catch (err) {
          get().fail("export", err);
        }
      },
      persist: () => {
        const snapshot = snapshotOf(get());
        if (!opts.save || !snapshot) return;
        Promise.resolve()
          .then(() => opts.save!(snapshot))
          .then(
            () => set((st) => ({ session: st.session && { ...st.session, savedAt: now().toISOString(), saveError: undefined } })),
            (err) => {
              set((st) => ({ session: st.session && { ...st.session, saveError: oneLine(err) } }));
              say(failure`not saved: ${oneLine(err)}`);
            },
          );
      },
      dispose: async () => {
        set((s) => ({ disposed: true, opening: s.opening + 1 }));
        get().relayRun?.abort();
        get().flush();
        await closeHandle();
      },
    };
  };
}
