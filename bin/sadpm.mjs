#!/usr/bin/env node
// sadpm entry: runs the TypeScript CLI through tsx, so `npx sadpm` works right after `npm ci`.
process.env.EGL_PLATFORM ??= 'surfaceless';
const { register } = await import('tsx/esm/api');
register();
const { main } = await import('../src/cli/index.ts');
const code = await main(process.argv.slice(2));
// tfjs and Dawn keep handles open; exit explicitly once the command is done.
process.exit(code);
