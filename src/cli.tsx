// The program: everything is composed in src/app (the headless and the interactive entry).
import { main } from "./app/headless.js";

await main(process.argv);
