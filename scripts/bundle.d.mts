/** Bundle the program from `entry` into `outdir` (one CommonJS file and its launcher); resolves with the path of the module to run. */
export function bundleProgram(opts: { entry: string; outdir: string }): Promise<string>;
/** Bundle a script that runs as an ES module (lazy imports split into chunks); resolves with the bundled entry's path. */
export function bundleScript(opts: { entry: string; outdir: string }): Promise<string>;
