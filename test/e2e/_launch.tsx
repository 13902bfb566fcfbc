// Entry for the end-to-end test: opens the interface the way `concord` does (argv: --session <file>).
import { launchUI } from "../../src/ui/launch.js";

const args = process.argv.slice(2);
const at = (flag: string) => (args.includes(flag) ? args[args.indexOf(flag) + 1] : undefined);
await launchUI({ session: at("--session"), replay: at("--replay"), theme: at("--theme") });
process.exit(process.exitCode ?? 0);
