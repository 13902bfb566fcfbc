// Every headless command registers itself on the root program here; one line per module, with
// the top-level command names it registers, so a command line loads only the module it names.
import type { Command } from "commander";

export type CommandModule = () => Promise<{ register: (program: Command) => void }>;

export const commandModules: ReadonlyArray<{ names: readonly string[]; load: CommandModule }> = [
  { names: ["replay"], load: () => import("./open.js") },
  { names: ["import"], load: () => import("./import.js") },
  { names: ["report"], load: () => import("./report.js") },
  { names: ["problems"], load: () => import("./problems.js") },
  { names: ["models"], load: () => import("./models.js") },
  { names: ["run"], load: () => import("./run.js") },
  { names: ["ensemble"], load: () => import("./ensemble.js") },
  { names: ["relay"], load: () => import("./relay.js") },
  { names: ["importance"], load: () => import("./importance.js") },
  { names: ["export"], load: () => import("./export.js") },
  { names: ["grade"], load: () => import("./grade.js") },
];
