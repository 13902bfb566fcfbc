// Charts as static SVG: a Vega-Lite spec compiled to Vega and rendered by Vega's headless
// string renderer. No canvas, no browser, no network: data is always inline and the loader
// refuses every request.
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";

export type ChartSpec = TopLevelSpec;

export interface RenderedChart {
  svg: string;
  width: number;
  height: number;
}

/** The look shared by every chart: system fonts only (nothing to download), quiet axes. */
const CONFIG = {
  font: "system-ui, -apple-system, 'Segoe UI', Roboto, 'Helvetica Neue', Arial, sans-serif",
  background: "#ffffff",
  axis: { labelFontSize: 11, titleFontSize: 12, titleFontWeight: 600, labelLimit: 320, gridColor: "#e5e7eb" },
  legend: { labelFontSize: 11, titleFontSize: 12, labelLimit: 320 },
  title: { fontSize: 14, anchor: "start" as const },
  view: { stroke: null },
};

const noNetwork = {
  load: () => Promise.reject(new Error("charts are drawn from inline data only")),
  sanitize: () => Promise.reject(new Error("charts are drawn from inline data only")),
  http: () => Promise.reject(new Error("charts are drawn from inline data only")),
  file: () => Promise.reject(new Error("charts are drawn from inline data only")),
};

/** Every string of a spec without control characters: Vega escapes markup, not escape sequences. */
function withoutControls<T>(v: T): T {
  if (typeof v === "string") return v.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]/g, "\ufffd") as T;
  if (Array.isArray(v)) return v.map(withoutControls) as T;
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withoutControls(x)])) as T;
  return v;
}

/** Render one Vega-Lite spec to an SVG string and its pixel size. */
export async function renderChart(spec: ChartSpec): Promise<RenderedChart> {
  const full = withoutControls({ ...spec, config: { ...CONFIG, ...(spec.config ?? {}) } }) as TopLevelSpec;
  const compiled = compile(full).spec;
  // Vega reports dataflow errors to its logger and draws on; a chart with an error must fail.
  const errors: string[] = [];
  const logger = vega.logger(vega.Warn);
  logger.error = (...args: unknown[]) => {
    errors.push(args.map((a) => (a instanceof Error ? a.message : String(a))).join(" "));
    return logger;
  };
  // A failed load is only a warning to Vega; here it means the spec asked for outside data.
  logger.warn = (...args: unknown[]) => {
    if (/^Loading failed/.test(String(args[0]))) errors.push(args.map(String).join(" "));
    return logger;
  };
  const view = new vega.View(vega.parse(compiled), { renderer: "none", loader: noNetwork as unknown as vega.Loader, logger });
  try {
    const svg = await view.toSVG();
    if (errors.length) throw new Error(`chart could not be drawn: ${errors[0]}`);
    const size = /^<svg[^>]*\swidth="([\d.]+)"[^>]*\sheight="([\d.]+)"/.exec(svg);
    return { svg, width: size ? Number(size[1]) : 0, height: size ? Number(size[2]) : 0 };
  } finally {
    view.finalize();
  }
}

/** A colour for a value in [0, 1] from a named Vega scheme (the same ramps the charts use). */
export function schemeColor(name: string, t: number): string {
  const interp = vega.scheme(name) as ((t: number) => string) | undefined;
  if (typeof interp !== "function") throw new Error(`unknown colour scheme ${name}`);
  return interp(Math.min(1, Math.max(0, t)));
}
