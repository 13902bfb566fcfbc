import { checkPage } from "./browser.js";
const r = await checkPage(process.argv[2]!, process.argv[3]!, { width: Number(process.argv[4] ?? 1400), figureShots: process.argv[5] });
console.log(JSON.stringify({ ...r, figures: r.figures.map((f) => ({ ...f, table: f.table.length, labels: f.labels.slice(0, 2) })), text: r.text.length }, null, 1));
