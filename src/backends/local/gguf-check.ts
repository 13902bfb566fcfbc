// Is a file a whole GGUF? The header is walked (magic, version, metadata, tensor table) and the
// file must reach past the start of its last tensor's data. An interrupted download or copy
// then reads "not a complete GGUF file" instead of whatever the loader trips over.
import { open } from "node:fs/promises";

const SCALAR_BYTES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
const STRING = 8;
const ARRAY = 9;

class EndOfFile extends Error {}

/** Undefined when the file looks whole; otherwise one phrase saying what is wrong. */
export async function ggufProblem(path: string): Promise<string | undefined> {
  const h = await open(path, "r").catch(() => undefined);
  if (!h) return undefined; // the loader's own error names a missing file
  try {
    const size = (await h.stat()).size;
    let buf = Buffer.alloc(0);
    let base = 0; // file offset of buf[0]
    let pos = 0; // file offset of the next byte to read
    const need = async (n: number) => {
      if (pos + n > size) throw new EndOfFile();
      if (pos + n <= base + buf.length) return;
      const want = Math.max(n, 1 << 20);
      const next = Buffer.alloc(Math.min(want, size - pos));
      await h.read(next, 0, next.length, pos);
      buf = next;
      base = pos;
    };
    const u32 = async () => (await need(4), (pos += 4), buf.readUInt32LE(pos - 4 - base));
    const u64 = async () => (await need(8), (pos += 8), Number(buf.readBigUInt64LE(pos - 8 - base)));
    const skip = async (n: number) => {
      if (pos + n > size) throw new EndOfFile();
      pos += n;
    };
    const str = async () => {
      const len = await u64();
      await need(len);
      pos += len;
      return buf.toString("utf8", pos - len - base, pos - base);
    };
    const value = async (type: number, key: string): Promise<number | undefined> => {
      if (type === STRING) return void (await skip(await u64()));
      if (type === ARRAY) {
        const itemType = await u32();
        const count = await u64();
        if (itemType in SCALAR_BYTES) return void (await skip(count * SCALAR_BYTES[itemType]));
        for (let i = 0; i < count; i++) await value(itemType, key);
        return undefined;
      }
      const bytes = SCALAR_BYTES[type];
      if (bytes === undefined) throw new Error(`metadata "${key}" has an unknown type ${type}`);
      if (key === "general.alignment" && type === 4) return u32();
      await skip(bytes);
      return undefined;
    };
    try {
      await need(4);
      if (buf.toString("latin1", 0, 4) !== "GGUF") return `not a GGUF file (it does not start with "GGUF"; ${size} bytes)`;
      pos = 4;
      const version = await u32();
      if (version < 2 || version > 3) return `GGUF version ${version} is not supported`;
      const tensors = await u64();
      const kvs = await u64();
      let alignment = 32;
      for (let i = 0; i < kvs; i++) {
        const key = await str();
        const a = await value(await u32(), key);
        if (a) alignment = a;
      }
      let lastOffset = 0;
      for (let i = 0; i < tensors; i++) {
        await str();
        const dims = await u32();
        await skip(dims * 8 + 4);
        lastOffset = Math.max(lastOffset, await u64());
      }
      const dataStart = Math.ceil(pos / alignment) * alignment;
      if (tensors > 0 && size <= dataStart + lastOffset)
        return `not a complete GGUF file: ${size} bytes, its tensor data needs more than ${dataStart + lastOffset} (an interrupted download or copy?)`;
      return undefined;
    } catch (err) {
      if (err instanceof EndOfFile) return `not a complete GGUF file: its header ends early at ${size} bytes (an interrupted download or copy?)`;
      return `not a valid GGUF file: ${(err as Error).message}`;
    }
  } finally {
    await h.close();
  }
}
