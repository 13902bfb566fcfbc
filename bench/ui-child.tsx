// Run by bench/ui.tsx in a fresh process, so that React's build (development or production,
// chosen from NODE_ENV when React is first imported) is the one asked for. argv: params JSON.
import { measureUiLoad, type UiLoadParams } from "./ui.js";

const params = JSON.parse(process.argv[2] ?? "{}") as UiLoadParams;
const r = await measureUiLoad(params);
process.stdout.write("\n" + JSON.stringify(r) + "\n");
process.exit(0);
