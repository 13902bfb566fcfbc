// Persistent settings through `conf`: profiles, default roles, theme, key overrides, sessions
// folder, and probe records. Nothing secret is ever written: profiles name key variables, and
// every write is checked against the values of secret-looking environment variables.
import Conf from "conf";
import { join } from "node:path";
import type { Capabilities } from "../backends/types.js";
import { ConfigError, emptyRoles, parseProfile, parseRoles, type ModelProfile, type ProbeRecord, type Roles } from "./profile.js";
import { oneLine } from "../errors.js";
import { mkdirFailure, writeFileVerifiedSync } from "../fsutil/write.js";
import { lockFile, LockedError, type Lock } from "../fsutil/lock.js";

const serialize = (value: unknown) => JSON.stringify(value, undefined, "\t");

/**
 * conf, writing through Concord's verified write: conf's own atomic write ignores a short
 * write(2) count, so a nearly full disk renamed a cut-off config.json over the good one. A
 * failed write now leaves config.json as it was and throws one line naming it.
 */

class VerifiedConf<T extends Record<string, any>> extends Conf<T> {}
Object.defineProperty(VerifiedConf.prototype, "_write", {
  value(this: { path: string }, value: unknown) {
    writeFileVerifiedSync(this.path, serialize(value), { what: "settings" });
  },
});

export interface SettingsData {
  version: 1;
  profiles: ModelProfile[];
  roles: Roles;
  theme: string;
  /** Key binding overrides: action name -> key. */
  keys: Record<string, string>;
  sessionsDir?: string;
  /** Probe records keyed by probeKey(profile). */
  probes: Record<string, ProbeRecord>;
}

/** How long a change waits for another process's change to the settings before it gives up. */
const CHANGE_WAIT_MS = 5000;

/** Block this thread for `ms` (settings are read and written synchronously). */
function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

const DEFAULTS: SettingsData = { version: 1, profiles: [], roles: emptyRoles(), theme: "default", keys: {}, probes: {} };

export type ProbedProfile = Pick<ModelProfile, "name" | "baseURL" | "model" | "path" | "recording">;

/** Probe records are tied to what was probed: the same name pointed elsewhere is a different model. */
export function probeKey(p: ProbedProfile): string {
  return `${p.name}|${p.baseURL ?? p.path ?? p.recording ?? ""}|${p.model}`;
}

const SECRET_NAME = /KEY|TOKEN|SECRET|PASSWORD|AUTH/i;

/** Throws when `text` contains the value of any secret-looking environment variable. */
export function assertNoSecrets(text: string, env: NodeJS.ProcessEnv, where: string): void {
  for (const [name, value] of Object.entries(env)) {
    if (!value || value.length < 8 || !SECRET_NAME.test(name)) continue;
    if (text.includes(value)) throw new ConfigError(`${where}: refusing to write the value of $${name}; store the variable's name (apiKeyEnv) instead`);
  }
}

export interface SettingsOptions {
  /** Folder holding config.json; default: env CONCORD_CONFIG_DIR, else the user's config directory. */
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export class SettingsStore {
  private readonly conf: Conf<SettingsData>;
  private readonly env: NodeJS.ProcessEnv;

  constructor(opts: SettingsOptions = {}) {
    this.env = opts.env ?? process.env;
    const cwd = opts.cwd ?? (this.env.CONCORD_CONFIG_DIR || undefined);
    try {
      this.conf = new VerifiedConf<SettingsData>({
        serialize,
        projectName: "concord",
        projectSuffix: "",
        cwd,
        // No `defaults`: conf writes them into the file when it opens it, so a command that only
        // read the settings could put an older file back over one another process had just
        // written. Defaults are applied on reading instead, and the file is written only by a change.
        accessPropertiesByDotNotation: false,
      });
    } catch (err) {
      const where = cwd ? join(cwd, "config.json") : "settings file";
      // conf creates its folder first: a folder that cannot be made is not a file that cannot be read.
      if ((err as NodeJS.ErrnoException).syscall === "mkdir" && cwd) {
        throw new ConfigError(`cannot create the settings folder ${cwd}: ${mkdirFailure(err, cwd).reason}`);
      }
      throw new ConfigError(`${where}: cannot be read: ${oneLine(err)}`);
    }
  }

  /** The settings file's path. */
  get path(): string {
    return this.conf.path;
  }

  /**
   * Read, change and write under the settings file's lock: two commands changing settings at
   * once (two `concord models add`) both keep their change, where conf alone keeps the last.
   */
  private change<T>(fn: () => T): T {
    const deadline = Date.now() + CHANGE_WAIT_MS;
    let lock: Lock;
    for (;;) {
      try {
        lock = lockFile(this.path, "a settings change");
        break;
      } catch (err) {
        if (!(err instanceof LockedError) || Date.now() >= deadline) throw err;
        sleepSync(10 + Math.random() * 20);
      }
    }
    try {
      return fn();
    } finally {
      lock.release();
    }
  }

  private write<K extends keyof SettingsData>(key: K, value: SettingsData[K]): void {
    assertNoSecrets(JSON.stringify(value), this.env, this.path);
    // One write of the two keys (conf's set with an object changes only the keys it names).
    this.conf.set({ version: DEFAULTS.version, [key]: value } as unknown as SettingsData);
  }

  profiles(): ModelProfile[] {
    const raw = this.conf.get("profiles") ?? DEFAULTS.profiles;
    if (!Array.isArray(raw)) throw new ConfigError(`${this.path}: profiles: expected a list`);
    return raw.map((p, i) => parseProfile(p, this.path, ["profiles", i]));
  }

  profile(name: string): ModelProfile | undefined {
    return this.profiles().find((p) => p.name === name);
  }

  /** Add or replace (by name) a profile. */
  saveProfile(input: unknown): ModelProfile {
    const p = parseProfile(input, this.path, ["profile"]);
    return this.change(() => {
      const rest = this.profiles().filter((q) => q.name !== p.name);
      this.write("profiles", [...rest, p]);
      return p;
    });
  }

  removeProfile(name: string): boolean {
    return this.change(() => {
      const all = this.profiles();
      const rest = all.filter((p) => p.name !== name);
      this.write("profiles", rest);
      return rest.length !== all.length;
    });
  }

  roles(): Roles {
    return parseRoles(this.conf.get("roles") ?? DEFAULTS.roles, this.path);
  }

  setRoles(roles: Roles): void {
    const parsed = parseRoles(roles, "roles");
    this.change(() => this.write("roles", parsed));
  }

  theme(): string {
    return String(this.conf.get("theme") ?? "default");
  }

  setTheme(name: string): void {
    this.change(() => this.write("theme", name));
  }

  keyOverrides(): Record<string, string> {
    return { ...(this.conf.get("keys") ?? {}) };
  }

  setKeyOverrides(keys: Record<string, string>): void {
    this.change(() => this.write("keys", { ...keys }));
  }

  /** Where sessions are saved: the setting, else `sessions/` in the current folder. */
  sessionsDir(): string {
    return this.conf.get("sessionsDir") ?? join(process.cwd(), "sessions");
  }

  setSessionsDir(dir: string): void {
    this.change(() => this.write("sessionsDir", dir));
  }

  /** Record what a probe found, for this profile's name + baseURL + model. */
  saveProbe(profile: ProbedProfile, caps: Capabilities | ProbeRecord): ProbeRecord {
    const record: ProbeRecord = { ...caps, probedAt: (caps as ProbeRecord).probedAt ?? new Date().toISOString() };
    return this.change(() => {
      const probes = { ...(this.conf.get("probes") ?? {}) };
      probes[probeKey(profile)] = record;
      this.write("probes", probes);
      return record;
    });
  }

  probe(profile: ProbedProfile): ProbeRecord | undefined {
    return (this.conf.get("probes") ?? {})[probeKey(profile)];
  }

  /** Everything, for display. */
  snapshot(): SettingsData {
    return { ...DEFAULTS, ...this.conf.store };
  }
}

export function openSettings(opts: SettingsOptions = {}): SettingsStore {
  return new SettingsStore(opts);
}
