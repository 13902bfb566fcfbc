// Does node-llama-cpp's prebuilt binding load on this Node, and read a model? (CI, once per Node line.)
// Usage: node .ci/llama-binding.mjs <file.gguf>
import { getLlama } from "node-llama-cpp";

const llama = await getLlama({ gpu: false, build: "never" });
const model = await llama.loadModel({ modelPath: process.argv[2] });
console.log(`${process.version}: node-llama-cpp's prebuilt binding loads a ${model.trainContextSize}-token-context model`);
await model.dispose();
await llama.dispose();
