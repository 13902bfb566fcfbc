// Run in a fresh process by bench/memory.ts, so that its peak RSS is this work's alone.
// argv: <session file> or "-" for the interface with nothing open (the floor). Loads the
// session with the real loader, opens it in the real store and renders the real Ink App on
// the Race screen. Prints one JSON line.
import { render } from "ink";
import { loadSession, type SessionFile } from "../src/state/sessions.js";
import { createConcordStore } from "../src/state/store.js";
import { ChainBuilder } from "../src/engine/ensemble.js";
import { App } from "../src/ui/App.js";
import { loadTheme } from "../src/ui/theme.js";
import { PacedBackend } from "./paced-backend.js";
import { BenchStdin, BenchStdout, isFrame } from "./terminal.js";
import { sleep } from "./lib.js";

async function main() {
  const file = process.argv[2] ?? "-";
  const rssStart = process.memoryUsage().rss;
  let loadMs = 0;
  let session: SessionFile | undefined;
  if (file !== "-") {
    const t1 = performance.now();
    session = await loadSession(file);
    loadMs = performance.now() - t1;
  }
  const gen = { name: "alpha", backend: new PacedBackend({ name: "alpha", tokensPerSecond: 100, text: " x." }), thinkingFormat: "think-tags" as const };
  const store = createConcordStore({
    createRace: (p, chain) => ({
      builder: new ChainBuilder({ problem: p, generators: [gen], evaluators: [gen], chain }),
      roles: session?.roles ?? { generators: [], evaluators: [], targets: [] },
    }),
  });
  const stdout = new BenchStdout(100, 40);
  // The chain's title line says how many sentences are drawn: wait for the frame that shows
  // them all (not a fixed time: a loaded machine starts and draws slowly). Nothing open: the
  // first frame.
  const want = session ? `chain: ${session.chain.sentences.length} sentences` : "";
  let drawn: { at: number; text: string } | undefined;
  let shownAll!: () => void;
  const chainDrawn = new Promise<void>((resolve) => (shownAll = resolve));
  stdout.onWrite = (w) => {
    if (drawn || !isFrame(w.data) || !w.data.includes(want)) return;
    drawn = { at: w.at, text: w.data };
    shownAll();
  };
  const t2 = performance.now();
  const ink = render(<App store={store} theme={loadTheme({ theme: "dark", env: {} })} />, {
    stdout: stdout as unknown as NodeJS.WriteStream,
    stdin: new BenchStdin() as unknown as NodeJS.ReadStream,
    stderr: new BenchStdout(80, 24) as unknown as NodeJS.WriteStream,
    exitOnCtrlC: false,
    patchConsole: false,
  });
  if (session)
    await store
      .getState()
      .openProblem(session.problem, { chain: session.chain, targets: session.targets, info: { id: session.id, createdAt: session.createdAt } });
  await Promise.race([chainDrawn, sleep(60_000)]);
  const frameMs = (drawn?.at ?? NaN) - t2;
  // A little longer, so that peak RSS includes what the interface holds once it is idle.
  await sleep(300);
  const shown = store.getState().chain.sentences.length;
  ink.unmount();
  await store.getState().dispose();
  const ru = process.resourceUsage();
  process.stdout.write(
    JSON.stringify({
      rssStart,
      peakRss: ru.maxRSS * 1024,
      heapUsed: process.memoryUsage().heapUsed,
      loadMs,
      frameMs,
      sentencesInStore: shown,
      frameShowsChain: drawn !== undefined,
    }) + "\n",
  );
  process.exit(0);
}

if (process.argv[1] && /memory-child\.tsx$/.test(process.argv[1])) await main();
