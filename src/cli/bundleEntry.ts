/**
 * The entry of the bundled CLI (scripts/bundle-bench.mjs → sadpm.mjs) for machines without node_modules, such as
 * the remote GPU machine: bin/sadpm.mjs needs tsx; this runs the compiled bundle. Dawn and better-sqlite3's native
 * addons are named by SADPM_DAWN_NODE and SADPM_SQLITE_NODE there.
 */
process.env.EGL_PLATFORM ??= 'surfaceless';
const { main } = await import('./index');
// tfjs and Dawn keep handles open; exit explicitly once the command is done.
process.exit(await main(process.argv.slice(2)));

export {};
