// Where Concord keeps what it can make again (model responses, downloaded models, compiled code):
// a folder of its own under the user's cache folder.
import { homedir } from "node:os";
import { isAbsolute, join } from "node:path";

/** `$XDG_CACHE_HOME/concord/<part>` (an absolute XDG_CACHE_HOME only), else `~/.cache/concord/<part>`. */
export function concordCacheDir(part: string, env: { XDG_CACHE_HOME?: string } = process.env): string {
  const base = env.XDG_CACHE_HOME && isAbsolute(env.XDG_CACHE_HOME) ? env.XDG_CACHE_HOME : join(homedir(), ".cache");
  return join(base, "concord", part);
}
