// Every headless command registers itself on the root program here; one line per command.
import type { Command } from "commander";

export const commandModules: Array<() => Promise<{ register: (program: Command) => void }>> = [
];
