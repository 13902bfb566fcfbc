// What the screens ask of the world beyond the interface: problem sets, saved sessions, results
// folders and model settings. Types only: the implementations read files and probe servers, and
// the entry hands them to the interface through the context (screens never touch the disk).
import type { Problem } from "../core/types.js";
import type { ResultsReport } from "../results/report.js";
import type { RelayRecord } from "../results/relay-store.js";
import type { ImportanceResult } from "../engine/importance.js";
import type { ProblemCatalog } from "../state/catalog.js";
import type { SessionEntry, SessionFile } from "../state/sessions.js";
import type { ProfileDraft } from "./profile-form.js";

export type { ProblemCatalog, DatasetState } from "../state/catalog.js";
export type { SessionEntry } from "../state/sessions.js";

export interface SessionsPort {
  /** Every saved session, newest first; unreadable files are listed with their error. */
  list(): Promise<SessionEntry[]>;
  load(file: string): Promise<SessionFile>;
}

/** One problem of one condition: what each target answered. */
export interface ResultItem {
  /** "<dataset>/<problem id>". */
  item: string;
  answers: Array<{ target: string; answer: string | null; correct: boolean }>;
}

export interface ResultsFolder {
  report: ResultsReport;
  /** Lines skipped as bad, one line each. */
  issues: string[];
  /** The items of a condition (by ConditionSummary.key), in file order. */
  items(conditionKey: string): ResultItem[];
}

export interface ResultsPort {
  /** Folders holding results (the root's, then `extra` not already listed). */
  folders(extra: string[]): Promise<string[]>;
  read(dir: string): Promise<ResultsFolder>;
  /** Folders holding relay results (relay.jsonl), found as `folders` finds results. */
  relayFolders?(extra: string[]): Promise<string[]>;
  /** A folder's relay records, and its bad lines (one line each). */
  readRelay?(dir: string): Promise<{ records: RelayRecord[]; issues: string[] }>;
  /** A chain's sentence importance from its saved samples (`concord importance`), if any. */
  importance?(problem: { source: string; id: string }, sentences: readonly string[]): Promise<ImportanceResult | undefined>;
}

export const ROLE_NAMES = ["generator", "evaluator", "target"] as const;
export type RoleName = (typeof ROLE_NAMES)[number];

export interface ProfileRow {
  name: string;
  backend: string;
  model: string;
  /** Name of the env var holding the key (never its value). */
  apiKeyEnv?: string;
  /** The roles saved for this profile (or, for profiles not saved, the roles they run in). */
  roles: RoleName[];
  capabilities?: string;
  /** Saved in settings (so it can be removed here). */
  saved?: boolean;
  /** Opened at start (false: not yet in use). */
  active?: boolean;
}

export interface SettingsPort {
  profiles(): ProfileRow[];
  /** Add or remove one role of a saved profile; a profile may hold several. */
  toggleRole(profile: string, role: RoleName): void;
  probe(profile: string, signal: AbortSignal): Promise<string>;
  themes: string[];
  theme(): string;
  setTheme(name: string): void;
  /** Where settings live (shown so users can find the file). */
  path?: string;
  /** The form values of a profile, for editing. */
  draft?(name: string): ProfileDraft | undefined;
  /** Check and save a profile (`replacing`: the name being edited). Returns a one-line note; throws one line naming the field. */
  saveProfile?(draft: ProfileDraft, replacing?: string): string;
  /** Remove a saved profile (and its name from the roles). Returns a one-line note. */
  removeProfile?(name: string): string;
}

/** Everything the screens use; an absent port means the mode has no such thing (a replay has no settings). */
/** A trace recording opened with `concord replay`: any problem it holds replays in the session. */
export interface RecordingPort {
  /** The problem a held entry stands for, with the recording's exchanges for it made ready. */
  open(held: Problem): Promise<Problem>;
}

export interface ScreenPorts {
  catalog?: ProblemCatalog;
  recording?: RecordingPort;
  sessions?: SessionsPort;
  results?: ResultsPort;
  settings?: SettingsPort;
}
