import { writeFileSync } from "node:fs";
import { engineSession } from "./html-session.js";
const t0 = performance.now();
const s = await engineSession("../shared/models/stories260K.gguf", Number(process.argv[2] ?? 20), 10);
writeFileSync(process.argv[3] ?? "/tmp/s.json", JSON.stringify(s));
console.log(s.chain.sentences.length, s.targets.answers.length, ((performance.now() - t0) / 1000).toFixed(1));
