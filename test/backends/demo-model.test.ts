// The demo model Concord writes itself: a valid llama GGUF that the embedded engine loads,
// streams from, and scores with; and the first-run choice between the defaults and the demo.
import { test, describe, after } from "node:test";
import assert from "node:assert/strict";
import { createServer, type Server } from "node:http";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AddressInfo } from "node:net";
import { readGgufFileInfo } from "node-llama-cpp";
import { DEMO_MODEL_NAME, demoModelBytes, demoModelPath, ensureDemoModel } from "../../src/backends/demo-model.js";
import { cachedModelFile, startupModels } from "../../src/backends/first-run.js";
import { DEFAULT_MODELS } from "../../src/backends/models.js";
import { LocalBackend, LocalModelPool } from "../../src/backends/local.js";
import { collect, type StreamChunk } from "../../src/backends/types.js";

const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), "concord-demo-"));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe("the demo model file", () => {
  test("the same bytes every time, well under 2 MB, a llama GGUF with an SPM vocabulary", async () => {
    const a = demoModelBytes();
    assert.ok(a.equals(demoModelBytes()));
    assert.ok(a.length < 2 * 1024 * 1024, `${a.length} bytes`);
    const env = { CONCORD_MODELS_DIR: tempDir() };
    const path = await ensureDemoModel(env);
    assert.equal(path, demoModelPath(env));
    const info = await readGgufFileInfo(path, { readTensorInfo: true });
    const md = info.metadata as unknown as {
      general: { architecture: string };
      llama: { block_count: number };
      tokenizer: { ggml: { model: string; tokens: string[]; token_type: number[] } };
    };
    assert.equal(md.general.architecture, "llama");
    assert.equal(md.tokenizer.ggml.model, "llama");
    const { tokens } = md.tokenizer.ggml;
    assert.equal(tokens.length, md.tokenizer.ggml.token_type.length);
    // llama.cpp's SPM tokenizer falls back to <0xNN> byte tokens: all 256 must be there.
    for (let b = 0; b < 256; b++) assert.ok(tokens.includes(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`), `byte ${b}`);
    assert.equal(info.fullTensorInfo?.length, 3 + 9 * md.llama.block_count);
  });

  test("a damaged copy is written again; a good one is left alone", async () => {
    const env = { CONCORD_MODELS_DIR: tempDir() };
    const path = await ensureDemoModel(env);
    writeFileSync(path, "not a model");
    await ensureDemoModel(env);
    assert.ok(readFileSync(path).equals(demoModelBytes()));
    const mtime = statSync(path).mtimeMs;
    await ensureDemoModel(env);
    assert.equal(statSync(path).mtimeMs, mtime);
  });
});

describe("the embedded engine on the demo model", () => {
  const pool = new LocalModelPool({ threads: 1, gpu: false });
  let backend: LocalBackend | undefined;
  after(async () => {
    await backend?.close();
    await pool.dispose();
  });
  const open = async () =>
    (backend ??= new LocalBackend({
      name: DEMO_MODEL_NAME,
      modelPath: await ensureDemoModel({ CONCORD_MODELS_DIR: tempDir() }),
      pool,
      contextSize: 512,
      sequences: 2,
    }));

  test("streams tokens with log-probabilities; the same seed gives the same text", async () => {
    const b = await open();
    const chunks: StreamChunk[] = [];
    const req = {
      prompt: { kind: "chat" as const, messages: [{ role: "user" as const, content: "Tom has 3 apples and buys 4 more. How many apples does he have now?" }] },
      maxTokens: 24,
      temperature: 0.8,
      seed: 7,
      logprobs: true,
    };
    const r = await collect(b.stream(req), (c) => chunks.push(c));
    assert.ok(chunks.length > 1, "more than one piece streamed");
    assert.equal(
      chunks
        .filter((c) => c.channel === "content")
        .map((c) => c.text)
        .join(""),
      r.text,
    );
    assert.ok(r.text.trim().length > 0);
    assert.ok(r.tokens && r.tokens.length > 0);
    for (const t of r.tokens!) assert.ok(Number.isFinite(t.logprob) && t.logprob <= 0, JSON.stringify(t));
    // The vocabulary prior keeps byte and control tokens out: the text is printable words.
    assert.match(r.text, /^[\x20-\x7e]+$/);
    const again = await collect(b.stream(req));
    assert.equal(again.text, r.text);
  });

  test("scores candidate texts: one finite log-probability per token, and likelier text scores higher", async () => {
    const b = await open();
    const prefix = { kind: "raw" as const, text: "Tom has 3 apples and buys 4 more." };
    const s = await b.score({ prefix, candidates: [" So the total is 7.", " <0x07>~~~}}{{||"] });
    assert.equal(s.candidates.length, 2);
    const mean = (i: number) => s.candidates[i]!.tokens.reduce((a, t) => a + t.logprob, 0) / s.candidates[i]!.tokens.length;
    for (const c of s.candidates) for (const t of c.tokens) assert.ok(Number.isFinite(t.logprob) && t.logprob <= 0);
    assert.ok(mean(0) > mean(1), `${mean(0)} vs ${mean(1)}`);
  });
});

describe("first run: the defaults, or the demo model", () => {
  test("CONCORD_MODEL wins: nothing is probed or written", async () => {
    const dir = tempDir();
    const r = await startupModels({ env: { CONCORD_MODEL: "/m/x.gguf", CONCORD_MODELS_DIR: dir, CONCORD_HF_ENDPOINT: "http://127.0.0.1:9" } });
    assert.equal(r.specs.source, "CONCORD_MODEL");
    assert.equal(r.notice, undefined);
  });

  test("no network: the demo model in every role, with one line saying so and how to use a real model", async () => {
    const dir = tempDir();
    const env = { CONCORD_MODELS_DIR: dir, CONCORD_HF_ENDPOINT: "http://127.0.0.1:9" };
    const t0 = performance.now();
    const r = await startupModels({ env });
    assert.ok(performance.now() - t0 < 5000, "at once, not after a download timeout");
    assert.equal(r.specs.source, "demo");
    assert.deepEqual(r.specs.models, [{ name: DEMO_MODEL_NAME, spec: demoModelPath(env) }]);
    for (const [role, names] of Object.entries(r.specs.roles)) if (role !== "prm") assert.deepEqual(names, [DEMO_MODEL_NAME], role);
    // What to do comes first, so a narrow terminal that cuts the line still shows it.
    assert.match(r.notice ?? "", /^no network: for a real model set CONCORD_MODEL=<file\.gguf> or pass --model <file\.gguf>; this demo model is untrained/);
    assert.ok(!r.notice!.includes("\n"));
  });

  describe("with a model host on 127.0.0.1", () => {
    // Serves every default's repository listing and file (the demo model's bytes stand in).
    const body = demoModelBytes();
    const requests: string[] = [];
    let status = 200;
    let server: Server;
    let base = "";
    const files = new Map(
      DEFAULT_MODELS.map((m) => {
        const [, owner, repo] = /^hf:([^/]+)\/([^/:]+)/.exec(m.spec)!;
        return [`${owner}/${repo}`, `${repo.replace(/-GGUF$/, "")}-Q8_0.gguf`];
      }),
    );
    after(() => new Promise<void>((r) => (server ? server.close(() => r()) : r())));
    const start = () =>
      new Promise<void>((resolve) => {
        server = createServer((req, res) => {
          const path = decodeURIComponent(new URL(req.url!, "http://x").pathname);
          requests.push(`${req.method} ${path}`);
          if (req.method === "HEAD" && path === "/") return res.end();
          const listing = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/main$/.exec(path);
          if (listing && files.has(listing[1]!))
            return res.end(JSON.stringify({ siblings: [{ rfilename: "README.md" }, { rfilename: files.get(listing[1]!) }] }));
          const file = /^\/([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(path);
          if (file && files.get(file[1]!) === file[2] && status === 200) {
            res.setHeader("content-length", String(body.length));
            return res.end(body);
          }
          res.statusCode = status === 200 ? 404 : status;
          return res.end();
        }).listen(0, "127.0.0.1", () => {
          base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
          resolve();
        });
      });

    test("the defaults download once, with progress; the next start uses no network", async () => {
      await start();
      const dir = tempDir();
      const env = { CONCORD_MODELS_DIR: dir, CONCORD_HF_ENDPOINT: base };
      const seen = new Set<string>();
      const ends: boolean[] = [];
      const r = await startupModels({ env, onProgress: (p) => seen.add(p.file), onDownloadEnd: (ok) => ends.push(ok) });
      assert.equal(r.specs.source, "defaults");
      assert.equal(r.notice, undefined);
      assert.deepEqual([...seen].sort(), [...files.values()].sort());
      assert.deepEqual(
        ends,
        DEFAULT_MODELS.map(() => true),
      );
      for (const m of DEFAULT_MODELS) assert.ok(readFileSync((await cachedModelFile(m.spec, env))!).equals(body));
      const before = requests.length;
      const again = await startupModels({ env: { ...env, CONCORD_HF_ENDPOINT: "http://127.0.0.1:9" } });
      assert.equal(again.specs.source, "defaults");
      assert.equal(requests.length, before);
    });

    test("a download that fails: the demo model, and the line says why", async () => {
      status = 503;
      const r = await startupModels({ env: { CONCORD_MODELS_DIR: tempDir(), CONCORD_HF_ENDPOINT: base } });
      status = 200;
      assert.equal(r.specs.source, "demo");
      assert.match(r.notice ?? "", /^download failed: for a real model set CONCORD_MODEL=<file\.gguf> .*untrained.* \(.+\)$/);
    });
  });
});
