// The session tree as the person moves about it: a cursor over the outline, a branch marked to
// compare, and going to a node (the chain becomes the path to it and its kept race is shown).
import type { StateCreator } from "zustand/vanilla";
import { branchOf, chainAt, childOf, latestRace, moveTo, nextBranch, nodeOf, parentOf, siblingOf, targetsAlong } from "../../core/tree.js";
import { targetsUpTo } from "../apply-events.js";
import { act, info } from "../notices.js";
import { lanesOfRace, keepRaceOnView } from "../tree-events.js";
import { hasAlternatives, otherTokens, tokenPositions } from "../../core/token-alternatives.js";
import type { ConcordState, SliceDeps, TokenMove, TreeActions, TreeMove } from "../types.js";
import { callEngine, refreshTargets } from "./engine-port.js";

export function treeSlice(deps: SliceDeps): StateCreator<ConcordState, [], [], TreeActions> {
  return (set, get) => {
    const say = (n: Parameters<ConcordState["notify"]>[0]) => get().notify(n, "tree");
    const cursorOf = (s: ConcordState) => (s.treeView.cursor && s.tree.nodes.has(s.treeView.cursor) ? s.treeView.cursor : s.tree.current);
    return {
      openTree: () => {
        get().flush();
        set((s) => ({ screen: "tree", overlay: null, treeView: { ...s.treeView, cursor: s.tree.current } }));
      },
      moveTreeCursor: (move: TreeMove) => {
        const s = get();
        const t = s.tree;
        const at = cursorOf(s);
        const to =
          move === "parent"
            ? parentOf(t, at)
            : move === "child"
              ? childOf(t, at)
              : move === "next-sibling"
                ? siblingOf(t, at, 1)
                : move === "prev-sibling"
                  ? siblingOf(t, at, -1)
                  : nextBranch(t, at, move === "next-branch" ? 1 : -1);
        set({ treeView: { ...s.treeView, cursor: to } });
      },
      markBranch: () => {
        const s = get();
        const leaf = branchOf(s.tree, cursorOf(s));
        const marked = s.treeView.marked;
        if (!marked || !s.tree.nodes.has(marked)) {
          set({ treeView: { ...s.treeView, marked: leaf } });
          return say(info`branch ${leaf} marked: move to another branch and ${act("tree-compare")} compares the two`);
        }
        if (marked === leaf) {
          set({ treeView: { ...s.treeView, marked: undefined } });
          return say(info`mark removed`);
        }
        set({ treeView: { ...s.treeView, marked: undefined, compare: [marked, leaf] } });
      },
      openTokens: () => {
        const s = get();
        const lane = s.race.lanes[s.selected];
        const c = lane?.candidate;
        if (!lane || !c?.tokens?.length) return say(info`no tokens to show: select a finished candidate`);
        if (!hasAlternatives(c)) return say(info`${lane.id}: its generator gave no alternatives per token (the embedded engine, llama-server and vLLM do)`);
        set({ screen: "tokens", overlay: null, tokensView: { candidateId: lane.id, position: 0, choice: 0 } });
      },
      why: () => {
        const s = get();
        const c = s.race.lanes[s.selected]?.candidate;
        if (s.showWhy && c && hasAlternatives(c)) {
          set({ showWhy: false });
          get().openTokens();
        } else s.toggleWhy();
      },
      moveTokenCursor: (move: TokenMove) => {
        const s = get();
        const v = s.tokensView;
        const c = v && s.race.lanes.find((l) => l.id === v.candidateId)?.candidate;
        if (!v || !c) return;
        const positions = tokenPositions(c);
        const page = 10;
        if (move === "alt-prev" || move === "alt-next") {
          // Every alternative with one generator, then every alternative with the next.
          const n = otherTokens(positions[v.position]!).length;
          if (!n) return;
          const gens = s.roles.generators;
          const now = v.generator ?? c.generator;
          const step = move === "alt-next" ? 1 : -1;
          const choice = (v.choice + step + n) % n;
          const wrapped = step === 1 ? choice === 0 : choice === n - 1;
          const generator = wrapped && gens.length > 1 ? gens[(gens.indexOf(now) + step + gens.length) % gens.length]! : now;
          set({ tokensView: { ...v, choice, generator } });
          return;
        }
        const delta = move === "next" ? 1 : move === "prev" ? -1 : move === "page-next" ? page : -page;
        const position = Math.max(0, Math.min(positions.length - 1, v.position + delta));
        if (position !== v.position) set({ tokensView: { ...v, position, choice: 0 } });
      },
      branchAtToken: async () => {
        const s = get();
        const v = s.tokensView;
        const c = v && s.race.lanes.find((l) => l.id === v.candidateId)?.candidate;
        if (!v || !c) return;
        const alt = otherTokens(tokenPositions(c)[v.position]!)[v.choice];
        if (!alt) return say(info`the generator gave no other token at ${v.position + 1}`);
        if (!s.handle?.builder.branchAt) return say(info`this race cannot branch at a token`);
        if (s.race.kept || !s.race.awaiting) return say(info`branching needs a race that waits for a decision: ${act("regenerate")} races this step again`);
        const generator = v.generator ?? c.generator;
        set({ screen: "race", overlay: null });
        get().notify(info`branch of ${c.id} at token ${v.position + 1}: ${generator} goes on from there; it joins the race when scored`, "race");
        await callEngine(get, "branch at a token", (b) => b.branchAt!({ from: c.id, position: v.position, token: alt.token, generator }));
      },
      closeCompare: () => set((s) => ({ treeView: { ...s.treeView, compare: undefined } })),
      goToNode: async (id) => {
        get().flush();
        const s = get();
        if (!s.tree.nodes.has(id)) return say(info`no node ${id} in this session`);
        if (s.replayer) return say(info`a replay follows the record: ${act("go-live")} continues live, then every branch can be taken`);
        if (id === s.tree.current && !s.race.generating) {
          get().setScreen("race");
          return;
        }
        const builder = s.handle?.builder;
        if (!builder?.setChain) return say(info`this race runs one branch only`);
        const left = s.race;
        const chain = chainAt(s.tree, id);
        set((st) => ({ autoDrive: { seq: st.autoDrive.seq + 1, live: false, pauseWanted: false }, auto: { mode: "off" }, paused: false }));
        await callEngine(get, "move in the tree", (b) => b.setChain!(chain));
        get().flush(); // the cancelled step's events belong to the place left
        // The race that was on view is kept where it ran (what it had finished before the move).
        const tree = moveTo(keepRaceOnView(get().tree, left), id);
        const along = targetsAlong(tree, id);
        const valid = along.answers;
        const targets = targetsUpTo({ ...get().targets, valid, history: along.consistency, pending: {} }, chain.sentences.length);
        const race = latestRace(tree, id);
        const depth = nodeOf(tree, id).depth;
        set({
          tree,
          chain,
          targets,
          screen: "race",
          overlay: null,
          chainScroll: undefined,
          leftRecordingAt: undefined,
          treeView: { ...get().treeView, cursor: id },
          race: race
            ? {
                step: depth,
                lanes: lanesOfRace(race),
                awaiting: true,
                generating: false,
                kept: true,
                ...(race.evaluatorPick ? { pick: race.evaluatorPick } : {}),
              }
            : { step: depth, lanes: [], awaiting: false, generating: false },
          selected: 0,
        });
        get().persist();
        const where = `${chain.sentences.length} sentences in`;
        if (race)
          get().notify(
            info`at ${id} (${where}): its race is kept · ${act("choose")} takes a candidate (another one starts a branch), ${act("regenerate")} races again`,
            "race",
          );
        else get().notify(info`at ${id} (${where})`, "race");
        refreshTargets(get);
        if (!race && !chain.finished && deps.opts.autoAdvance !== false) get().startStep();
      },
    };
  };
}
