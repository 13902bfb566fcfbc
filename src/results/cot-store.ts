// Chains of thought of a run (cots.ndjson), saved one JSON line each before any target sees
// them, so a resumed run gives the remaining targets the same chain.
import { promises as fs } from "node:fs";
import { dirname } from "node:path";
import { appendVerified, ensureDir } from "../fsutil/write.js";

export const COTS_FILE = "cots.ndjson";

export type CotMeta = Record<string, string | number | boolean | null>;

export interface SavedCot {
  key: string;
  cot: string;
  meta?: CotMeta;
}

export class CotStore {
  private map = new Map<string, SavedCot>();
  private pending = new Map<string, Promise<SavedCot>>();
  private writes: Promise<void> = Promise.resolve();
  constructor(private file: string) {}

  async load(): Promise<void> {
    let text = "";
    try {
      text = await fs.readFile(this.file, "utf8");
    } catch {
      return;
    }
    for (const line of text.split("\n")) {
      if (!line.trim()) continue;
      try {
        const v = JSON.parse(line) as SavedCot;
        if (typeof v.key === "string" && typeof v.cot === "string") this.map.set(v.key, v);
      } catch {
        // A torn last line from a killed run: that chain is simply made again.
      }
    }
  }

  /** Whether a chain is saved under `key`. */
  has(key: string): boolean {
    return this.map.has(key);
  }

  /** The saved chain for `key`, or make it once (concurrent callers share the work). */
  get(key: string, make: () => Promise<Omit<SavedCot, "key">>): Promise<{ cot: string; meta: CotMeta }> {
    return this.getSaved(key, make).then((v) => ({ cot: v.cot, meta: v.meta ?? {} }));
  }

  private getSaved(key: string, make: () => Promise<Omit<SavedCot, "key">>): Promise<SavedCot> {
    const have = this.map.get(key);
    if (have) return Promise.resolve(have);
    let p = this.pending.get(key);
    if (!p) {
      p = (async () => {
        const made = { key, ...(await make()) };
        await this.append(made);
        this.map.set(key, made);
        return made;
      })();
      p.catch(() => {}).finally(() => this.pending.delete(key));
      this.pending.set(key, p);
    }
    return p;
  }

  private append(v: SavedCot): Promise<void> {
    const line = JSON.stringify(v) + "\n";
    this.writes = this.writes.then(async () => {
      await ensureDir(dirname(this.file), "results");
      await appendVerified(this.file, line, { what: "chains", kept: "that chain was not saved; every chain saved before is kept" });
    });
    return this.writes;
  }
}
