// 7. A big results file: `concord report` and a resumed `concord run` on a results folder whose
// results.jsonl is 2 GiB (the file is generated in a temporary folder and removed afterwards).
// Before results were read as a stream, anything over about 512 MiB (V8's longest string)
// failed with "cannot read". Each command runs in a fresh process; its peak RSS is the kernel's
// (GNU time's %M) so it counts everything the process held.
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ResultRecord } from "../src/results/schema.js";
import { check, fmt, mib, table, type Bench } from "./lib.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const MODEL = join(root, "..", "shared", "models", "stories260K.gguf");

function record(i: number, cot: string): ResultRecord {
  return {
    schema: 1,
    experiment: "big",
    condition: i % 2 ? { kind: "transfer", source: "src", variant: "full" } : { kind: "empty", variant: "full" },
    target: `t${i % 3}`,
    problemId: `p${Math.floor(i / 6)}`,
    dataset: "synthetic",
    reference: { kind: "number", value: String(i % 10) },
    answerRaw: `The answer is ${i % 7}.`,
    answer: String(i % 7),
    correct: i % 7 === i % 10,
    cot,
    meta: { answerMs: 10 },
  };
}

/** Write about `bytes` of results (16 KiB chains) to `<dir>/results.jsonl`; returns the record count. */
function generate(dir: string, bytes: number): number {
  const cot = "The chain of thought goes on, one sentence at a time. ".repeat(300);
  const fd = openSync(join(dir, "results.jsonl"), "w");
  let n = 0;
  let written = 0;
  const batch: string[] = [];
  try {
    while (written < bytes) {
      const line = JSON.stringify(record(n++, cot)) + "\n";
      batch.push(line);
      written += Buffer.byteLength(line);
      if (batch.length === 256) writeSync(fd, batch.splice(0).join(""));
    }
    if (batch.length) writeSync(fd, batch.join(""));
  } finally {
    closeSync(fd);
  }
  return n;
}

/** Run the CLI under GNU time: wall ms, peak RSS bytes, exit status, last stderr line. */
function timedCli(args: string[], env: NodeJS.ProcessEnv): { ms: number; rss: number; status: number | null; stdout: string; err: string } {
  const t0 = performance.now();
  const r = spawnSync("/usr/bin/time", ["-f", "MAXRSS %M", process.execPath, join(root, "test", "concord-from-source.mjs"), ...args], {
    env,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  const ms = performance.now() - t0;
  const rss = Number(/MAXRSS (\d+)/.exec(r.stderr)?.[1] ?? NaN) * 1024;
  return {
    ms,
    rss,
    status: r.status,
    stdout: r.stdout,
    err:
      r.stderr
        .split("\n")
        .filter((l) => l && !/^MAXRSS/.test(l))
        .slice(-1)[0] ?? "",
  };
}

export const bigResults: Bench = {
  name: "big-results",
  title: "A 2 GiB results file: report and resume",
  async run(opts) {
    if (!existsSync("/usr/bin/time")) return { body: [], checks: [], notes: [], skipped: "needs GNU time (/usr/bin/time) for peak RSS" };
    const bytes = opts.quick ? 16 * 1024 ** 2 : 2 * 1024 ** 3;
    const dir = mkdtempSync(join(tmpdir(), "concord-bench-big-"));
    try {
      const t0 = performance.now();
      const n = generate(dir, bytes);
      const genMs = performance.now() - t0;
      const size = statSync(join(dir, "results.jsonl")).size;
      opts.log?.(`generated ${fmt(size / 1024 ** 2, 0)} MiB, ${n} records, in ${fmt(genMs / 1000, 1)} s`);
      const env = { ...process.env, CONCORD_MODEL: MODEL, CONCORD_MODELS: "", NO_COLOR: "1" };
      const report = timedCli(["report", dir, "--json"], env);
      const reported = report.status === 0 ? (JSON.parse(report.stdout) as unknown) !== null : false;
      // A resumed run: the builtin problems on the embedded model, into the same folder.
      const spec = join(dir, "..", `${dir.split("/").pop()}-exp.yaml`);
      writeFileSync(
        spec,
        ["name: big-resume", "problems: { set: builtin }", "conditions: [empty]", "targets: [a]", "answerTokens: 8", `out: ${dir}`].join("\n"),
      );
      const run = existsSync(MODEL) ? timedCli(["run", spec, "--json"], env) : undefined;
      rmSync(spec, { force: true });
      const runSummary = run?.status === 0 ? (JSON.parse(run.stdout.trim().split("\n").at(-1)!) as { written: number }) : undefined;
      const rows = [
        ["concord report --json", fmt(report.ms / 1000, 1), mib(report.rss), String(report.status), report.status ? report.err : "ok"],
        ...(run
          ? [
              [
                "concord run (resume, 5 new answers)",
                fmt(run.ms / 1000, 1),
                mib(run.rss),
                String(run.status),
                run.status ? run.err : `ok, ${runSummary?.written} written`,
              ],
            ]
          : []),
      ];
      return {
        body: [
          `results.jsonl of ${fmt(size / 1024 ** 2, 0)} MiB (${n} records, 16 KiB chains), generated in ${fmt(genMs / 1000, 1)} s.`,
          table(["command", "wall s", "peak RSS", "exit", "result"], rows),
        ],
        checks: [
          check("report exit status on the big file", report.status ?? -1, "= 0", report.status === 0 && reported),
          // Quick mode's file is smaller than the runtime itself: the ratio means something only at 2 GiB.
          ...(opts.quick ? [] : [check("report peak RSS / file size", report.rss / size, "<= 0.25", report.rss / size <= 0.25)]),
          ...(run ? [check("resumed run exit status", run.status ?? -1, "= 0", run.status === 0 && runSummary?.written === 5)] : []),
        ],
        notes: [
          "Chains are left out when reporting or resuming (they are the bulk of the file and neither needs them); the file is read 1 MiB at a time, one line parsed at a time.",
        ],
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  },
};
