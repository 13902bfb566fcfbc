// The screens' ports over the file system: saved sessions, results folders and problem sets.
// The entry builds them once and hands them to the interface (src/ui/ports.ts names the types).
import { readdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { buildReport } from "../../results/report.js";
import { conditionKey, type ResultRecord } from "../../results/schema.js";
import { formatIssue, readResults } from "../../results/store.js";
import { readRelayRecords, RELAY_FILE } from "../../results/relay-store.js";
import { savedImportance } from "../../engine/importance.js";
import { listSessions, loadSession } from "../../state/sessions.js";
import type { ProblemCatalog, RecordingPort, ResultItem, ResultsPort, ScreenPorts, SessionsPort, SettingsPort } from "../../ui/ports.js";

/** Folders under `root` holding a results.jsonl (the root itself too), then the extra ones. */
export async function findResultsFolders(root: string, extra: string[] = [], file = "results.jsonl"): Promise<string[]> {
  const found: string[] = [];
  const hasJsonl = async (dir: string) => (await readdir(dir).catch(() => [] as string[])).includes(file);
  if (await hasJsonl(root)) found.push(root);
  const entries = await readdir(root, { withFileTypes: true }).catch(() => []);
  for (const e of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (e.isDirectory() && (await hasJsonl(join(root, e.name)))) found.push(join(root, e.name));
  }
  for (const d of extra) if (!found.some((f) => resolve(f) === resolve(d))) found.push(d);
  return found;
}

/** Each item of one condition with every target's answer (the last record of a target wins, as in the report). */
export function itemsOf(records: readonly ResultRecord[], key: string): ResultItem[] {
  const items = new Map<string, Map<string, ResultRecord>>();
  for (const r of records) {
    if (conditionKey(r.condition) !== key) continue;
    const id = `${r.dataset}/${r.problemId}`;
    let byTarget = items.get(id);
    if (!byTarget) items.set(id, (byTarget = new Map()));
    byTarget.set(r.target, r);
  }
  return [...items].map(([item, byTarget]) => ({
    item,
    answers: [...byTarget.values()].map((r) => ({ target: r.target, answer: r.answer, correct: r.correct })),
  }));
}

/** `dirs`: folders named at start (--results), listed after those under `root`. */
export function resultsPort(root = "results", dirs: string[] = [], importanceRoot = "importance"): ResultsPort {
  return {
    folders: (extra) => findResultsFolders(root, [...dirs, ...extra]),
    read: async (dir) => {
      // Streamed, and without the chains (the screen shows answers, never a CoT): a results
      // file of any size opens in memory bounded by its records' answers.
      const r = await readResults(dir, { slim: true });
      return { report: buildReport(r.records), issues: r.issues.map(formatIssue), items: (key) => itemsOf(r.records, key) };
    },
    relayFolders: (extra) => findResultsFolders(root, [...dirs, ...extra], RELAY_FILE),
    readRelay: async (dir) => {
      const r = await readRelayRecords(dir);
      if (!r.found) throw new Error(`${dir}: no ${RELAY_FILE} (not a relay results folder)`);
      return { records: r.records, issues: r.issues.map((i) => `${join(dir, RELAY_FILE)}:${i.line}: ${i.message}`) };
    },
    importance: (problem, sentences) => savedImportance(problem, sentences, importanceRoot),
  };
}

/** `claim` locks a session file as it is opened, so a second writer is refused before any work. */
export function sessionsPort(dir: string, claim?: (file: string) => void): SessionsPort {
  return {
    list: () => listSessions(dir),
    load: async (file) => {
      const session = await loadSession(file);
      claim?.(file);
      return session;
    },
  };
}

export interface ScreenPortOptions {
  catalog?: ProblemCatalog;
  /** Where saved sessions are listed from (none: no "saved sessions" entry). */
  sessionsDir?: string;
  /** Locks a saved session as it is opened (the autosaver's claim). */
  claimSession?: (file: string) => void;
  /** Where results folders are looked for (default ./results). */
  resultsRoot?: string;
  /** Results folders named at start. */
  resultsDirs?: string[];
  /** Where `concord importance` keeps its samples (default ./importance). */
  importanceRoot?: string;
  settings?: SettingsPort;
  recording?: RecordingPort;
}

export function screenPorts(o: ScreenPortOptions): ScreenPorts {
  return {
    catalog: o.catalog,
    sessions: o.sessionsDir ? sessionsPort(o.sessionsDir, o.claimSession) : undefined,
    results: resultsPort(o.resultsRoot, o.resultsDirs, o.importanceRoot),
    settings: o.settings,
    recording: o.recording,
  };
}
