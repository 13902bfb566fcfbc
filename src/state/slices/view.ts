// Which screen is on view, its toggles, and each screen's notice.
import type { StateCreator } from "zustand/vanilla";
import { oneLine } from "../../errors.js";
import { MAX_ERRORS } from "../apply-events.js";
import { failure, plain } from "../notices.js";
import type { ConcordState, NoticeActions, ViewActions } from "../types.js";

export const viewSlice: StateCreator<ConcordState, [], [], NoticeActions & ViewActions> = (set, get) => ({
  setScreen: (screen) => set({ screen, overlay: null }),
  toggleHelp: () => set((s) => ({ overlay: s.overlay === "help" ? null : "help" })),
  toggleTargets: () => set((s) => ({ showTargets: !s.showTargets })),
  toggleWhy: () => set((s) => ({ showWhy: !s.showWhy })),
  toggleReveal: () => set((s) => ({ revealReference: !s.revealReference })),
  notify: (notice, screen) => set((s) => ({ notices: { ...s.notices, [screen ?? s.screen]: notice } })),
  setStatus: (text) => get().notify(plain(text)),
  fail: (what, err, screen = "race") => {
    const msg = `${what}: ${oneLine(err)}`;
    set((s) => ({ notices: { ...s.notices, [screen]: failure`${msg}` }, errors: [...s.errors, msg].slice(-MAX_ERRORS) }));
  },
});
