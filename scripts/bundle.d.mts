/** Bundle the program (or a script) from `entry` into `outdir`; resolves with the bundled entry's path. */
export function bundleProgram(opts: { entry: string; outdir: string }): Promise<string>;
