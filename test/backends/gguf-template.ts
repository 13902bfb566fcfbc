// Test helper: a copy of a GGUF file with one string metadata key added (used to give the
// tiny test model a chat template). Only what is needed to walk a GGUF v2/v3 header.
import { readFileSync, writeFileSync } from "node:fs";

const SCALAR: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };

export function withStringMetadata(src: string, dest: string, key: string, value: string): void {
  const buf = readFileSync(src);
  let o = 4 + 4; // magic, version
  const tensorCount = Number(buf.readBigUInt64LE(o));
  o += 8;
  const kvCount = Number(buf.readBigUInt64LE(o));
  o += 8;
  const headerEnd = o;
  const str = () => {
    const n = Number(buf.readBigUInt64LE(o));
    o += 8 + n;
  };
  const skipValue = (type: number): void => {
    if (type === 8) return str();
    if (type === 9) {
      const inner = buf.readUInt32LE(o);
      const count = Number(buf.readBigUInt64LE(o + 4));
      o += 12;
      for (let i = 0; i < count; i++) skipValue(inner);
      return;
    }
    o += SCALAR[type]!;
  };
  for (let i = 0; i < kvCount; i++) {
    str();
    const type = buf.readUInt32LE(o);
    o += 4;
    skipValue(type);
  }
  const kvEnd = o;
  for (let i = 0; i < tensorCount; i++) {
    str();
    const dims = buf.readUInt32LE(o);
    o += 4 + 8 * dims + 4 + 8;
  }
  const infoEnd = o;
  const align = 32;
  const dataStart = Math.ceil(infoEnd / align) * align;
  const enc = (s: string) => {
    const b = Buffer.from(s, "utf8");
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(b.length));
    return Buffer.concat([len, b]);
  };
  const type = Buffer.alloc(4);
  type.writeUInt32LE(8);
  const kv = Buffer.concat([enc(key), type, enc(value)]);
  const head = Buffer.from(buf.subarray(0, headerEnd));
  head.writeBigUInt64LE(BigInt(kvCount + 1), 16);
  const meta = Buffer.concat([head, buf.subarray(headerEnd, kvEnd), kv, buf.subarray(kvEnd, infoEnd)]);
  const pad = Buffer.alloc(Math.ceil(meta.length / align) * align - meta.length);
  writeFileSync(dest, Buffer.concat([meta, pad, buf.subarray(dataStart)]));
}
