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
