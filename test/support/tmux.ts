// Driving the real program in a tmux session: send keys, read the screen, wait for what it shows.
import { execFileSync } from "node:child_process";

export interface TmuxDriverOptions {
  /** Default longest wait for a screen (ms). */
  waitMs?: number;
  /** How often the screen is read while waiting (ms). */
  pollMs?: number;
}

export function tmuxDriver(name: string, opts: TmuxDriverOptions = {}) {
  const tmux = (...args: string[]): string => execFileSync("tmux", args, { encoding: "utf8" });
  const screen = () => tmux("capture-pane", "-p", "-t", name);
  const keys = (...k: string[]) => tmux("send-keys", "-t", name, ...k);
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  async function waitFor(what: string, pred: (s: string) => boolean, ms = opts.waitMs ?? 60_000): Promise<string> {
    const end = Date.now() + ms;
    let s = "";
    while (Date.now() < end) {
      s = screen();
      if (pred(s)) return s;
      await sleep(opts.pollMs ?? 200);
    }
    throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
  }
  return { tmux, screen, keys, sleep, waitFor };
}

export interface LaneRow {
  selected: boolean;
  pick: boolean;
  id: string;
  /** The lane's text as shown, without a closing "…". */
  text: string;
  /** The text ended in "…" (clipped at the column, or still streaming). */
  clipped: boolean;
  /** The score column as shown: a perplexity, "-" while not known, or "not scored". */
  score: string;
}

/** The Race's candidate lanes on a screen: cursor, pick mark, lane id, text, then a score or "not scored". */
export function raceLanes(screen: string): LaneRow[] {
  return screen
    .split("\n")
    .map((l) => /^([▸ ])([★ ])[✓ ] (\S+#\d+) +(.*?) +([\d.-]+|not scored)\s*$/.exec(l))
    .filter((m): m is RegExpExecArray => !!m)
    .map((m) => ({
      selected: m[1] === "▸",
      pick: m[2] === "★",
      id: m[3]!,
      text: m[4]!.trim().replace(/…$/, "").trim(),
      clipped: m[4]!.trim().endsWith("…"),
      score: m[5]!,
    }));
}
