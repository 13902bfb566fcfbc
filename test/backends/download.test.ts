import { test, describe, before, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { createHash } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { downloadFile, hfEndpoint, modelsDir, parseModelSpec, resolveModelFile } from "../../src/backends/download.js";
import { DEFAULT_MODELS, resolveDefaultModelSpecs } from "../../src/backends/models.js";
import { UserError } from "../../src/errors.js";
import { demoModelBytes } from "../../src/backends/demo-model.js";

const SOURCE = new URL("../../../shared/models/stories260K.gguf", import.meta.url).pathname;
// Any GGUF's bytes serve as the payload: stories260K from ../shared, else the demo model.
const BYTES = existsSync(SOURCE) ? readFileSync(SOURCE) : demoModelBytes();
const SHA = createHash("sha256").update(BYTES).digest("hex");
const sha = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");

/** A stand-in for a Hugging Face style file host on 127.0.0.1, with Range support. */
interface HostLog {
  ranges: (string | undefined)[];
  paths: string[];
}
let server: Server;
let base = "";
const log: HostLog = { ranges: [], paths: [] };
/** The next this-many file requests send half the file and then drop the connection. */
let cutsLeft = 0;

before(async () => {
  server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    log.paths.push(path);
    if (path === "/api/models/acme/tiny/revision/main") {
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ siblings: [{ rfilename: "README.md" }, { rfilename: "tiny-F16.gguf" }, { rfilename: "tiny-Q8_0.gguf" }] }));
      return;
    }
    const hf = /^\/acme\/tiny\/resolve\/main\/(.+)$/.exec(path);
    if (hf) {
      const name = hf[1]!;
      if (name === "missing.gguf") {
        res.statusCode = 404;
        res.end("Entry not found");
        return;
      }
      // Like the Hub: a redirect to the file store, the checksum in X-Linked-Etag.
      res.statusCode = 302;
      res.setHeader("location", `/store/${name}`);
      res.setHeader("x-linked-etag", `"${name === "corrupt.gguf" ? "0".repeat(64) : SHA}"`);
      res.end();
      return;
    }
    if (path.startsWith("/store/") || path === "/plain/stories.gguf") {
      log.ranges.push(req.headers.range);
      let start = 0;
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      if (m) {
        start = Number(m[1]);
        if (start >= BYTES.length) {
          res.statusCode = 416;
          res.end();
          return;
        }
        res.statusCode = 206;
        res.setHeader("content-range", `bytes ${start}-${BYTES.length - 1}/${BYTES.length}`);
      }
      res.setHeader("content-length", String(BYTES.length - start));
      if (cutsLeft > 0) {
        cutsLeft--;
        const half = start + Math.floor((BYTES.length - start) / 2);
        res.write(BYTES.subarray(start, half), () => setTimeout(() => res.destroy(), 20));
        return;
      }
      res.end(BYTES.subarray(start));
      return;
    }
    res.statusCode = 404;
    res.end();
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((r) => server.close(() => r())));

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "concord-models-"));
}
const reset = () => {
  log.ranges.length = 0;
  log.paths.length = 0;
  cutsLeft = 0;
};

describe("model specs and folders", () => {
  test("parses hf files, hf quantisations, URLs, paths and checksums", () => {
    assert.deepEqual(parseModelSpec("hf:Qwen/Qwen3-0.6B-GGUF/Qwen3-0.6B-Q8_0.gguf"), {
      kind: "hf",
      owner: "Qwen",
      repo: "Qwen3-0.6B-GGUF",
      revision: "main",
      file: "Qwen3-0.6B-Q8_0.gguf",
      quant: undefined,
      sha256: undefined,
    });
    const q = parseModelSpec("hf:owner/repo:Q4_K_M");
    assert.equal(q.kind === "hf" && q.quant, "Q4_K_M");
    const r = parseModelSpec(`https://example.org/m.gguf#sha256=${SHA.toUpperCase()}`);
    assert.deepEqual(r, { kind: "url", url: "https://example.org/m.gguf", sha256: SHA });
    const p = parseModelSpec("models/x.gguf");
    assert.ok(p.kind === "path" && p.path.endsWith("/models/x.gguf") && p.path.startsWith("/"));
    assert.throws(() => parseModelSpec("hf:owner"), UserError);
    assert.throws(() => parseModelSpec("hf:o/r/../../etc/passwd.gguf"), /inside the repository/);
    assert.throws(() => parseModelSpec("x.gguf#sha256=abc"), /64 hex/);
  });

  test("the models folder follows CONCORD_MODELS_DIR, then XDG_CACHE_HOME; the hub endpoint is overridable", () => {
    assert.equal(modelsDir({ CONCORD_MODELS_DIR: "/data/m" }), "/data/m");
    assert.equal(modelsDir({ XDG_CACHE_HOME: "/c" }), "/c/concord/models");
    assert.match(modelsDir({}), /\.cache\/concord\/models$/);
    assert.equal(hfEndpoint({ CONCORD_HF_ENDPOINT: "http://127.0.0.1:9/" }), "http://127.0.0.1:9");
    assert.equal(hfEndpoint({}), "https://huggingface.co");
  });

  test("default models: two open families, one reasoning; CONCORD_MODEL sends every role to one file", () => {
    assert.ok(DEFAULT_MODELS.length >= 2);
    assert.ok(new Set(DEFAULT_MODELS.map((m) => m.family)).size >= 2);
    assert.ok(DEFAULT_MODELS.some((m) => m.reasoning));
    for (const m of DEFAULT_MODELS) {
      assert.equal(parseModelSpec(m.spec).kind, "hf");
      assert.match(m.licence, /Apache-2\.0|MIT/);
      assert.ok(m.approxBytes < 1e9);
    }
    const d = resolveDefaultModelSpecs({});
    assert.equal(d.source, "defaults");
    const names = new Set(d.models.map((m) => m.name));
    for (const [role, list] of Object.entries(d.roles)) {
      if (role !== "prm") assert.ok(list.length > 0, role);
      for (const n of list) assert.ok(names.has(n), `${role} -> ${n}`);
    }
    const one = resolveDefaultModelSpecs({ CONCORD_MODEL: SOURCE });
    assert.equal(one.source, "CONCORD_MODEL");
    assert.deepEqual(one.models, [{ name: "stories260k", spec: SOURCE }]);
    for (const [role, list] of Object.entries(one.roles)) if (role !== "prm") assert.deepEqual(list, ["stories260k"]);
  });
});

describe("downloads from a local file host", () => {
  test("hf: file downloads once, checked against X-Linked-Etag, with progress; later calls stay offline", async () => {
    reset();
    const dir = tempDir();
    const env = { CONCORD_HF_ENDPOINT: base, CONCORD_MODELS_DIR: dir };
    const seen: number[] = [];
    let total: number | undefined;
    const path = await resolveModelFile("hf:acme/tiny/stories260K.gguf", {
      env,
      onProgress: (p) => {
        seen.push(p.downloadedBytes);
        total = p.totalBytes;
      },
    });
    assert.equal(path, join(dir, "hf", "acme", "tiny", "stories260K.gguf"));
    assert.equal(sha(path), SHA);
    assert.equal(total, BYTES.length);
    assert.equal(seen.at(-1), BYTES.length);
    assert.ok(!existsSync(`${path}.partial`));
    const requests = log.paths.length;
    assert.equal(await resolveModelFile("hf:acme/tiny/stories260K.gguf", { env }), path);
    assert.equal(log.paths.length, requests, "no request for a file already there");
    rmSync(dir, { recursive: true, force: true });
  });

  test("a dropped connection is resumed with a Range request, within one call and across calls", async () => {
    reset();
    const dir = tempDir();
    const dest = join(dir, "stories.gguf");
    cutsLeft = 1;
    const r1 = await downloadFile(`${base}/plain/stories.gguf`, dest, { sha256: SHA, retries: 2 });
    assert.equal(sha(dest), SHA);
    assert.equal(r1.bytes, BYTES.length);
    const half = Math.floor(BYTES.length / 2);
    assert.deepEqual(log.ranges, [undefined, `bytes=${half}-`]);

    reset();
    const dest2 = join(dir, "again.gguf");
    cutsLeft = 1;
    await assert.rejects(downloadFile(`${base}/plain/stories.gguf`, dest2, { retries: 0 }), /interrupted at \d+ of \d+ bytes; run again to resume/);
    assert.ok(!existsSync(dest2));
    assert.equal(statSync(`${dest2}.partial`).size, half);
    const r2 = await downloadFile(`${base}/plain/stories.gguf`, dest2, { sha256: SHA, retries: 0 });
    assert.equal(r2.resumedFrom, half);
    assert.equal(sha(dest2), SHA);
    assert.ok(!existsSync(`${dest2}.partial`));
    rmSync(dir, { recursive: true, force: true });
  });

  test("a checksum mismatch fails clearly and leaves no model file behind", async () => {
    reset();
    const dir = tempDir();
    const env = { CONCORD_HF_ENDPOINT: base, CONCORD_MODELS_DIR: dir };
    await assert.rejects(
      resolveModelFile("hf:acme/tiny/corrupt.gguf", { env }),
      /corrupt\.gguf does not match its sha256 \(expected 0{64}, got [0-9a-f]{64}\)/,
    );
    const dest = join(dir, "hf", "acme", "tiny", "corrupt.gguf");
    assert.ok(!existsSync(dest) && !existsSync(`${dest}.partial`));
    await assert.rejects(resolveModelFile(`${base}/plain/stories.gguf#sha256=${"1".repeat(64)}`, { env }), /does not match its sha256/);
    rmSync(dir, { recursive: true, force: true });
  });

  test("404 and an unreachable host are clear errors that point at a local file", async () => {
    reset();
    const dir = tempDir();
    await assert.rejects(resolveModelFile("hf:acme/tiny/missing.gguf", { env: { CONCORD_HF_ENDPOINT: base, CONCORD_MODELS_DIR: dir } }), (e: unknown) => {
      assert.ok(e instanceof UserError);
      assert.match(e.message, /not found \(HTTP 404\)/);
      assert.match(e.message, /CONCORD_MODEL=<file\.gguf>/);
      return true;
    });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, "127.0.0.1", r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((r) => closed.close(() => r()));
    await assert.rejects(
      resolveModelFile("hf:acme/tiny/stories260K.gguf", { env: { CONCORD_HF_ENDPOINT: `http://127.0.0.1:${port}`, CONCORD_MODELS_DIR: dir }, retries: 0 }),
      /^UserError: offline\? use a GGUF you have: set CONCORD_MODEL=<file\.gguf> or pass --model <file\.gguf> \(cannot download /,
    );
    rmSync(dir, { recursive: true, force: true });
  });

  test("hf:owner/repo:QUANT picks the matching GGUF from the repository listing", async () => {
    reset();
    const dir = tempDir();
    const path = await resolveModelFile("hf:acme/tiny:q8_0", { env: { CONCORD_HF_ENDPOINT: base, CONCORD_MODELS_DIR: dir } });
    assert.equal(path, join(dir, "hf", "acme", "tiny", "tiny-Q8_0.gguf"));
    assert.equal(sha(path), SHA);
    // Already there: found by its quantisation without asking the host.
    log.paths.length = 0;
    assert.equal(await resolveModelFile("hf:acme/tiny:Q8_0", { env: { CONCORD_HF_ENDPOINT: "http://127.0.0.1:9", CONCORD_MODELS_DIR: dir } }), path);
    assert.equal(log.paths.length, 0);
    rmSync(dir, { recursive: true, force: true });
  });
});
