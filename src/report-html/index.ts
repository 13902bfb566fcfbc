// Self-contained HTML pages: a results folder's figures and a session as a handout.
export { renderChart, schemeColor, type ChartSpec, type RenderedChart } from "./chart.js";
export { escapeHtml } from "./html.js";
export { bootstrapCondition, type ConditionIntervals, type Interval } from "./intervals.js";
export { buildResultsSections, chainLengthBins, ensembleWinners, renderResultsHtml, type ResultsPageInput } from "./results.js";
export { readRelayFiles } from "./relay-files.js";
export { nllClass, renderSessionHtml } from "./session.js";
