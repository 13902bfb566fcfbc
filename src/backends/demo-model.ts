// The demo model: a tiny llama-architecture GGUF that Concord writes itself, so the interface
// and the embedded engine work on a machine with no network and no model file. Its weights are
// seeded random numbers, not trained: it streams tokens, gives log-probabilities and scores text
// like any GGUF, but what it writes is word salad. The file is the same bytes on every machine.
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { seededRandom } from "../core/random.js";
import { modelsDir, type Env } from "./download.js";

/** Bump the version when the bytes change, so an old copy is never taken for the new one. */
export const DEMO_MODEL_FILE = "concord-demo-untrained-v1.gguf";
/** The profile name the demo model runs under. */
export const DEMO_MODEL_NAME = "demo";
/** One line for the screen: what the demo model is, and how to use a real one. */
/** What to do first, then what the demo model is: the line is cut at narrow terminals. */
export const DEMO_MODEL_NOTE = "for a real model set CONCORD_MODEL=<file.gguf> or pass --model <file.gguf>; this demo model is untrained and writes nonsense";

const SEED = 19;
const N_EMBD = 64;
const N_HEAD = 4;
const N_LAYER = 2;
const N_FF = 128;
const N_CTX = 2048;

// Words the demo problems and their reasoning use; each is a token with a leading "▁" (a space).
const WORDS = (
  "the a an and or of to in on at for with is are was were be has have had he she it they we you " +
  "his her their this that there then so if not no yes how many much more less each every all some " +
  "first next now left total number answer step so because which what when who does do did get gets " +
  "got buys buy pays cost costs change dollars dollar bill pens pen apples apple eggs egg box boxes " +
  "holds bus seats seat people person empty reads read pages page day days book need needs plus minus " +
  "times divided by equals makes gives add subtract multiply divide sum difference product half twice " +
  "Tom Mia Sam So Then The We First Next Now Therefore therefore thus"
).split(" ");

const CONTROL = ["<unk>", "<s>", "</s>"];
const enum TokenType {
  Normal = 1,
  Unknown = 2,
  Control = 3,
  Byte = 6,
}

interface Vocab {
  tokens: string[];
  scores: number[];
  types: number[];
  /** A prior on each token's log-probability, built into the output weights. */
  prior: number[];
}

/**
 * A SentencePiece ("llama") vocabulary: control tokens, the 256 byte tokens llama.cpp falls back
 * to, every printable ASCII character, and the words above with each of their prefixes (SPM
 * tokenisation merges adjacent pieces only into pieces in the vocabulary, so a word is reached one
 * character at a time). The prior favours whole words, digits and sentence ends, so sampled text
 * is words and sentences; bytes, prefixes and control tokens are all but never sampled.
 */
function buildVocab(): Vocab {
  const tokens: string[] = [];
  const scores: number[] = [];
  const types: number[] = [];
  const prior: number[] = [];
  const seen = new Set<string>();
  const add = (t: string, type: number, score: number, p: number) => {
    if (seen.has(t)) return;
    seen.add(t);
    tokens.push(t);
    scores.push(score);
    types.push(type);
    prior.push(p);
  };
  add("<unk>", TokenType.Unknown, 0, -12);
  add("<s>", TokenType.Control, 0, -12);
  add("</s>", TokenType.Control, 0, -5);
  for (let b = 0; b < 256; b++) add(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`, TokenType.Byte, 0, -12);
  for (let c = 0x20; c < 0x7f; c++) {
    const ch = c === 0x20 ? "▁" : String.fromCharCode(c);
    const p = ch === "." ? 4.5 : ch === "," ? 0 : -8;
    add(ch, TokenType.Normal, -1, p);
  }
  for (let d = 0; d <= 60; d++) add(`▁${d}`, TokenType.Normal, -2, d <= 12 || d % 5 === 0 ? 0.5 : -1);
  let score = -3;
  for (const w of WORDS) {
    const piece = `▁${w}`;
    for (let i = 2; i < piece.length; i++) add(piece.slice(0, i), TokenType.Normal, score--, -9);
    add(piece, TokenType.Normal, score--, 1);
  }
  return { tokens, scores, types, prior };
}

// ---- GGUF writer (version 3; https://github.com/ggml-org/ggml/blob/master/docs/gguf.md) ----

const enum GgufType {
  Uint32 = 4,
  Float32 = 6,
  String = 8,
  Array = 9,
  Int32 = 5,
}
const GGML_TYPE_F32 = 0;
const ALIGNMENT = 32;

type Value =
  | { type: GgufType.Uint32 | GgufType.Int32 | GgufType.Float32; value: number }
  | { type: GgufType.String; value: string }
  | { type: GgufType.Array; of: GgufType.String; value: string[] }
  | { type: GgufType.Array; of: GgufType.Float32 | GgufType.Int32; value: number[] };

class ByteWriter {
  private chunks: Buffer[] = [];
  length = 0;
  private push(b: Buffer) {
    this.chunks.push(b);
    this.length += b.length;
  }
  u32(n: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    this.push(b);
  }
  i32(n: number) {
    const b = Buffer.alloc(4);
    b.writeInt32LE(n);
    this.push(b);
  }
  f32(n: number) {
    const b = Buffer.alloc(4);
    b.writeFloatLE(n);
    this.push(b);
  }
  u64(n: number) {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    this.push(b);
  }
  str(s: string) {
    const b = Buffer.from(s, "utf8");
    this.u64(b.length);
    this.push(b);
  }
  bytes(b: Buffer) {
    this.push(b);
  }
  pad(to: number) {
    const n = (to - (this.length % to)) % to;
    if (n) this.push(Buffer.alloc(n));
  }
  value(v: Value) {
    this.u32(v.type);
    if (v.type === GgufType.String) return this.str(v.value);
    if (v.type === GgufType.Array) {
      this.u32(v.of);
      this.u64(v.value.length);
      for (const x of v.value) {
        if (v.of === GgufType.String) this.str(x as string);
        else if (v.of === GgufType.Float32) this.f32(x as number);
        else this.i32(x as number);
      }
      return;
    }
    if (v.type === GgufType.Float32) this.f32(v.value);
    else if (v.type === GgufType.Int32) this.i32(v.value);
    else this.u32(v.value);
  }
  done(): Buffer {
    return Buffer.concat(this.chunks);
  }
}

interface Tensor {
  name: string;
  /** ggml order: dims[0] is the contiguous one (a linear layer's input size). */
  dims: number[];
  data: Float32Array;
}

/** The demo model's GGUF, built in memory; the same bytes every time. */
export function demoModelBytes(): Buffer {
  const vocab = buildVocab();
  const nVocab = vocab.tokens.length;
  const rand = seededRandom(SEED);
  const gauss = () => {
    // Box-Muller from the seeded uniform generator.
    const u = 1 - rand();
    const v = rand();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  };
  const matrix = (rows: number, cols: number, scale: number) => {
    const a = new Float32Array(rows * cols);
    for (let i = 0; i < a.length; i++) a[i] = gauss() * scale;
    return a;
  };
  const ones = (n: number) => new Float32Array(n).fill(1);
  // Dimension 0 of the residual stream is a constant that no layer writes: after the final norm
  // it carries about the same value for every position, so column 0 of the output weights acts
  // as a per-token bias, the vocabulary prior. The other dimensions vary with the context.
  const LEAD = 4;
  const embd = matrix(nVocab, N_EMBD, 0.3);
  for (let t = 0; t < nVocab; t++) embd[t * N_EMBD] = LEAD;
  // Dimension 1 marks a sentence end (also carried straight through by the residual stream): the
  // token after "." is a capitalised word, not another ".".
  const stop = vocab.tokens.indexOf(".");
  for (let t = 0; t < nVocab; t++) embd[t * N_EMBD + 1] = t === stop ? LEAD : 0;
  const normedLead = LEAD / Math.sqrt((LEAD * LEAD + (N_EMBD - 1) * 0.09) / N_EMBD);
  const output = matrix(nVocab, N_EMBD, 0.2);
  for (let t = 0; t < nVocab; t++) {
    output[t * N_EMBD] = vocab.prior[t]! / normedLead;
    const capital = /^▁[A-Z]/.test(vocab.tokens[t]!) && vocab.prior[t]! > 0;
    output[t * N_EMBD + 1] = t === stop ? -8 / normedLead : capital ? 4 / normedLead : -2 / normedLead;
  }
  const noLead = (a: Float32Array, inputs: number) => {
    a.fill(0, 0, 2 * inputs); // rows 0 and 1 (output dimensions 0, 1) of a layer writing to the residual stream
    return a;
  };

  const headDim = N_EMBD / N_HEAD;
  const tensors: Tensor[] = [
    { name: "token_embd.weight", dims: [N_EMBD, nVocab], data: embd },
    { name: "output_norm.weight", dims: [N_EMBD], data: ones(N_EMBD) },
    { name: "output.weight", dims: [N_EMBD, nVocab], data: output },
  ];
  for (let l = 0; l < N_LAYER; l++) {
    const s = 1 / Math.sqrt(N_EMBD);
    tensors.push(
      { name: `blk.${l}.attn_norm.weight`, dims: [N_EMBD], data: ones(N_EMBD) },
      { name: `blk.${l}.attn_q.weight`, dims: [N_EMBD, N_EMBD], data: matrix(N_EMBD, N_EMBD, s) },
      { name: `blk.${l}.attn_k.weight`, dims: [N_EMBD, N_EMBD], data: matrix(N_EMBD, N_EMBD, s) },
      { name: `blk.${l}.attn_v.weight`, dims: [N_EMBD, N_EMBD], data: matrix(N_EMBD, N_EMBD, s) },
      { name: `blk.${l}.attn_output.weight`, dims: [N_EMBD, N_EMBD], data: noLead(matrix(N_EMBD, N_EMBD, s * 0.2), N_EMBD) },
      { name: `blk.${l}.ffn_norm.weight`, dims: [N_EMBD], data: ones(N_EMBD) },
      { name: `blk.${l}.ffn_gate.weight`, dims: [N_EMBD, N_FF], data: matrix(N_FF, N_EMBD, s) },
      { name: `blk.${l}.ffn_up.weight`, dims: [N_EMBD, N_FF], data: matrix(N_FF, N_EMBD, s) },
      { name: `blk.${l}.ffn_down.weight`, dims: [N_FF, N_EMBD], data: noLead(matrix(N_EMBD, N_FF, 0.2 / Math.sqrt(N_FF)), N_FF) },
    );
  }

  const kv: Array<[string, Value]> = [
    ["general.architecture", { type: GgufType.String, value: "llama" }],
    ["general.name", { type: GgufType.String, value: "Concord demo (untrained)" }],
    [
      "general.description",
      { type: GgufType.String, value: "Seeded random weights written by Concord; not trained, for trying the program without a model file." },
    ],
    ["general.license", { type: GgufType.String, value: "MIT" }],
    ["general.alignment", { type: GgufType.Uint32, value: ALIGNMENT }],
    ["llama.context_length", { type: GgufType.Uint32, value: N_CTX }],
    ["llama.embedding_length", { type: GgufType.Uint32, value: N_EMBD }],
    ["llama.block_count", { type: GgufType.Uint32, value: N_LAYER }],
    ["llama.feed_forward_length", { type: GgufType.Uint32, value: N_FF }],
    ["llama.attention.head_count", { type: GgufType.Uint32, value: N_HEAD }],
    ["llama.attention.head_count_kv", { type: GgufType.Uint32, value: N_HEAD }],
    ["llama.rope.dimension_count", { type: GgufType.Uint32, value: headDim }],
    ["llama.attention.layer_norm_rms_epsilon", { type: GgufType.Float32, value: 1e-5 }],
    ["tokenizer.ggml.model", { type: GgufType.String, value: "llama" }],
    ["tokenizer.ggml.tokens", { type: GgufType.Array, of: GgufType.String, value: vocab.tokens }],
    ["tokenizer.ggml.scores", { type: GgufType.Array, of: GgufType.Float32, value: vocab.scores }],
    ["tokenizer.ggml.token_type", { type: GgufType.Array, of: GgufType.Int32, value: vocab.types }],
    ["tokenizer.ggml.unknown_token_id", { type: GgufType.Uint32, value: CONTROL.indexOf("<unk>") }],
    ["tokenizer.ggml.bos_token_id", { type: GgufType.Uint32, value: CONTROL.indexOf("<s>") }],
    ["tokenizer.ggml.eos_token_id", { type: GgufType.Uint32, value: CONTROL.indexOf("</s>") }],
  ];

  const w = new ByteWriter();
  w.bytes(Buffer.from("GGUF", "ascii"));
  w.u32(3);
  w.u64(tensors.length);
  w.u64(kv.length);
  for (const [key, value] of kv) {
    w.str(key);
    w.value(value);
  }
  let offset = 0;
  for (const t of tensors) {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(GGML_TYPE_F32);
    w.u64(offset);
    offset += Math.ceil((t.data.length * 4) / ALIGNMENT) * ALIGNMENT;
  }
  w.pad(ALIGNMENT);
  for (const t of tensors) {
    w.bytes(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    w.pad(ALIGNMENT);
  }
  return w.done();
}

/** Where the demo model is kept: `<models folder>/demo/` (see modelsDir). */
export function demoModelPath(env: Env = process.env): string {
  return join(modelsDir(env), "demo", DEMO_MODEL_FILE);
}

/**
 * The demo model's path, written first when it is missing or not the expected bytes (through a
 * temporary file and a rename, so a half-written file is never loaded).
 */
export async function ensureDemoModel(env: Env = process.env): Promise<string> {
  const path = demoModelPath(env);
  const bytes = demoModelBytes();
  const want = createHash("sha256").update(bytes).digest("hex");
  const have = await readFile(path).then(
    (b) => createHash("sha256").update(b).digest("hex"),
    () => undefined,
  );
  if (have === want) return path;
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  try {
    await writeFile(tmp, bytes);
    await rename(tmp, path);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  return path;
}
