// Every headless command registers itself on the root program here; one line per command.
import type { Command } from "commander";

export const commandModules: Array<() => Promise<{ register: (program: Command) => void }>> = [
  () => import("./open.js"),
  () => import("./import.js"),
  () => import("./report.js"),
  () => import("./problems.js"),
  () => import("./models.js"),
  () => import("./run.js"),
  () => import("./ensemble.js"),
  () => import("./relay.js"),
  () => import("./importance.js"),
  () => import("./export.js"),
  () => import("./grade.js"),
];
