// Starts the real llama-server (../shared/tools) on 127.0.0.1 at a free port, waits until
// /health answers 200, and stops it by its PID. Restartable on the same port, for tests that
// take the server away mid-run.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const SHARED = resolve(root, "..", "shared");
export const LLAMA_SERVER = resolve(SHARED, "tools", "llama-server");
export const STORIES = resolve(SHARED, "models", "stories260K.gguf");

/** Why the real-server tests cannot run here, or false when they can. */
export function llamaServerMissing(): string | false {
  if (!existsSync(LLAMA_SERVER)) return `llama-server missing: ${LLAMA_SERVER}`;
  if (!existsSync(STORIES)) return `model missing: ${STORIES}`;
  return false;
}

async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

export interface LlamaServer {
  readonly url: string;
  readonly baseURL: string;
  readonly port: number;
  pid(): number | undefined;
  /** Stop the process (SIGTERM, then SIGKILL if it lingers) and wait until it has exited. */
  stop(): Promise<void>;
  /** Start it again on the same port (optionally serving under another alias) and wait for /health. */
  start(opts?: { alias?: string }): Promise<void>;
  /** What the server wrote, for failure messages. */
  log(): string;
}

export interface LlamaServerOptions {
  /** A template file name in ../shared/templates (default: the model's own, or llama.cpp's fallback). */
  template?: string;
  model?: string;
  /** The model id the server lists and answers with (default: the file's path). */
  alias?: string;
  /** Context tokens and parallel slots (default 2048 over 4 slots: 512 each). */
  contextSize?: number;
  slots?: number;
}

export async function startLlamaServer(opts: LlamaServerOptions = {}): Promise<LlamaServer> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let out = "";
  const args = [
    "-m",
    opts.model ?? STORIES,
    "--host",
    "127.0.0.1",
    "--port",
    String(port),
    "-c",
    String(opts.contextSize ?? 2048),
    "-np",
    String(opts.slots ?? 4),
    "-t",
    "1",
    "--no-webui",
  ];
  if (opts.template) args.push("--chat-template-file", resolve(SHARED, "templates", opts.template));
  let alias = opts.alias;

  const start = async (again: { alias?: string } = {}) => {
    alias = again.alias ?? alias;
    const c = spawn(LLAMA_SERVER, alias ? [...args, "--alias", alias] : args, { stdio: ["ignore", "pipe", "pipe"] });
    child = c;
    c.stdout!.on("data", (d) => (out = (out + d).slice(-20_000)));
    c.stderr!.on("data", (d) => (out = (out + d).slice(-20_000)));
    let exited = false;
    c.once("exit", () => (exited = true));
    for (;;) {
      if (exited) throw new Error(`llama-server exited while starting:\n${out.slice(-2000)}`);
      try {
        const r = await fetch(`${url}/health`, { signal: AbortSignal.timeout(2000) });
        if (r.status === 200) return;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 100));
    }
  };
  const stop = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null || c.signalCode !== null) return;
    const gone = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill("SIGTERM");
    const lingering = setTimeout(() => c.kill("SIGKILL"), 5000);
    await gone;
    clearTimeout(lingering);
  };
  await start();
  return { url, baseURL: `${url}/v1`, port, pid: () => child?.pid, stop, start, log: () => out };
}
