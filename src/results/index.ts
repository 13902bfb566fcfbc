// The results folder: record schema, reading/writing, the report and the genex importer.
export * from "./schema.js";
export * from "./store.js";
export * from "./report.js";
export * from "./labels.js";
export * from "./genex.js";
