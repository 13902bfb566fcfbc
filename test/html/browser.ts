// Opens a page from disk in Debian's headless Chromium with the network off and reports what a
// reader would get: every figure's SVG and its drawn size, console errors, any request that
// tried to leave file://, and a full-page screenshot.
import { mkdtemp, rm } from "node:fs/promises";
import { existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { chromium, type BrowserContext } from "playwright-core";

export const CHROMIUM = process.env.CONCORD_CHROMIUM ?? "/usr/bin/chromium";

export const chromiumMissing = (): string | false => (existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (apt-get install chromium)`);

export interface FigureCheck {
  id: string;
  /** The SVG's width/height attributes (what Vega drew). */
  width: number;
  height: number;
  /** The size the browser laid it out at. */
  boxWidth: number;
  boxHeight: number;
  /** Graphic marks drawn (paths, rects, lines, text, circles) inside the SVG. */
  marks: number;
  /** aria-labels of the data marks: Vega-Lite's "field: value; ..." descriptions. */
  labels: string[];
  /** The figure's table: header row, then rows of cell texts. */
  table: string[][];
  expectedWidth: number;
  expectedHeight: number;
}

export interface PageCheck {
  title: string;
  figures: FigureCheck[];
  consoleErrors: string[];
  blockedRequests: string[];
  scripts: number;
  screenshot: string;
  text: string;
}

export const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** A fresh browser profile each time (Playwright passes it as --user-data-dir). */
export async function launchBrowser(userDataDir: string, width = 1400): Promise<BrowserContext> {
  return chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_FLAGS,
    viewport: { width, height: 900 },
    offline: true,
  });
}

/** Load `file` (file://), refuse every other request, and read back the figures. */
export async function checkPage(file: string, screenshot: string, opts: { width?: number; figureShots?: string } = {}): Promise<PageCheck> {
  const profile = await mkdtemp(join(tmpdir(), "concord-chromium-"));
  const context = await launchBrowser(profile, opts.width);
  try {
    const blockedRequests: string[] = [];
    await context.route("**/*", (route) => {
      const url = route.request().url();
      if (url.startsWith("file://")) return route.continue();
      blockedRequests.push(url);
      return route.abort();
    });
    const page = context.pages()[0] ?? (await context.newPage());
    const consoleErrors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push(m.text());
    });
    page.on("pageerror", (e) => consoleErrors.push(String(e)));
    await page.goto(pathToFileURL(file).href, { waitUntil: "load" });
    const figures = await page.$$eval("figure.fig", (figs) =>
      figs.map((f) => {
        const svg = f.querySelector(".chart svg");
        const box = svg?.getBoundingClientRect();
        const rows = [...f.querySelectorAll("table tr")].map((tr) => [...tr.querySelectorAll("th,td")].map((c) => (c.textContent ?? "").trim()));
        return {
          id: f.id,
          width: Number(svg?.getAttribute("width") ?? 0),
          height: Number(svg?.getAttribute("height") ?? 0),
          boxWidth: box?.width ?? 0,
          boxHeight: box?.height ?? 0,
          marks: svg ? svg.querySelectorAll("path,rect,line,text,circle").length : 0,
          labels: svg
            ? [...svg.querySelectorAll('[role="graphics-symbol"][aria-label]')]
                .map((e) => e.getAttribute("aria-label") ?? "")
                .filter((l) => !/axis|legend/i.test(l))
            : [],
          table: rows,
          expectedWidth: Number(f.getAttribute("data-chart-width")),
          expectedHeight: Number(f.getAttribute("data-chart-height")),
        };
      }),
    );
    const scripts = await page.$$eval("script", (s) => s.length);
    const title = await page.title();
    const text = await page.$eval("body", (b) => b.innerText);
    await page.screenshot({ path: screenshot, fullPage: true });
    if (opts.figureShots) {
      for (const f of figures) await page.locator(`[id="${f.id}"]`).screenshot({ path: join(opts.figureShots, `${f.id}.png`) });
    }
    return { title, figures, consoleErrors, blockedRequests, scripts, screenshot, text };
  } finally {
    await context.close();
    await rm(profile, { recursive: true, force: true });
  }
}
