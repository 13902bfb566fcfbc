// Screenshots of one page and each of its figures: `node --import tsx test/html/shoot.ts <page.html> <dir>`.
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { checkPage } from "./browser.js";

const [file, dir] = process.argv.slice(2);
if (!file || !dir) throw new Error("usage: shoot.ts <page.html> <dir>");
mkdirSync(dir, { recursive: true });
const r = await checkPage(file, join(dir, "page.png"), { figureShots: dir });
console.log(
  JSON.stringify(
    { figures: r.figures.map((f) => `${f.id} ${f.width}x${f.height} marks=${f.marks}`), consoleErrors: r.consoleErrors, blockedRequests: r.blockedRequests },
    null,
    1,
  ),
);
