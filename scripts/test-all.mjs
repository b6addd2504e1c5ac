#!/usr/bin/env node
// `npm test`: runs every test suite in turn, streams its output, and ends with exactly one line
//   N passed, N failed, N skipped
// totalled over all suites, because the CI's output reader understands that line and not vitest's summary
// (ENVIRONMENT.md, CI). Exits non-zero if anything failed.
//
// A suite either counts as one test (pass/fail by exit code: type checks, lint, build) or reports its own
// counts through a parser (vitest's JSON report; Playwright's JSON reporter later).
// Usage: node scripts/test-all.mjs [suite-name ...]   (no names: all suites)
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const tmp = mkdtempSync(join(tmpdir(), 'sadpm-test-'));

// Children inherit this environment. Dawn (WebGPU in Node) reaches Mesa's llvmpipe through EGL only with a
// surfaceless platform; it must be set in the parent process of vitest's workers.
const env = { ...process.env, EGL_PLATFORM: 'surfaceless' };

/**
 * @typedef {{ passed: number, failed: number, skipped: number }} Counts
 * @typedef {{ name: string, cmd: string[], env?: Record<string, string>, counts?: (exitCode: number) => Counts }} Suite
 */

/** Reads vitest's JSON report (jest-compatible fields). A crash without a report counts as one failure. */
function vitestCounts(file) {
  return (exitCode) => {
    let report;
    try {
      report = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return { passed: 0, failed: 1, skipped: 0 };
    }
    const passed = report.numPassedTests ?? 0;
    let failed = report.numFailedTests ?? 0;
    const skipped = (report.numPendingTests ?? 0) + (report.numTodoTests ?? 0);
    // A test file that fails to load fails without failing a test: count each such file as one failure.
    for (const file of report.testResults ?? []) {
      const failedTests = (file.assertionResults ?? []).filter((t) => t.status === 'failed').length;
      if (file.status === 'failed' && failedTests === 0) failed += 1;
    }
    // Anything else that makes vitest exit non-zero (e.g. an unhandled error) still must not read as green.
    if (exitCode !== 0 && failed === 0) failed = 1;
    return { passed, failed, skipped };
  };
}

/** Reads Playwright's JSON report (stats: expected / unexpected / flaky / skipped). */
function playwrightCounts(file) {
  return (exitCode) => {
    let report;
    try {
      report = JSON.parse(readFileSync(file, 'utf8'));
    } catch {
      return { passed: 0, failed: 1, skipped: 0 };
    }
    const st = report.stats ?? {};
    let failed = (st.unexpected ?? 0) + (report.errors?.length ?? 0);
    if (exitCode !== 0 && failed === 0) failed = 1;
    return { passed: (st.expected ?? 0) + (st.flaky ?? 0), failed, skipped: st.skipped ?? 0 };
  };
}

/** The suites, in order. Add new ones here (e.g. Playwright e2e-web with a JSON reporter and a parser). */
/** @type {Suite[]} */
const suites = [
  { name: 'typecheck', cmd: ['npx', '--no', '--', 'tsc', '-p', 'tsconfig.json', '--noEmit'] },
  { name: 'typecheck-renderer', cmd: ['npx', '--no', '--', 'vue-tsc', '-p', 'tsconfig.web.json', '--noEmit'] },
  { name: 'lint', cmd: ['npx', '--no', '--', 'eslint', '.'] },
  // One format (.prettierrc.json: width 120); 'npx prettier --write .' applies it.
  { name: 'format', cmd: ['npx', '--no', '--', 'prettier', '--check', '--log-level', 'warn', '.'] },
  // The Electron skeleton must keep building (the Electron binary itself is never needed for this).
  { name: 'build', cmd: ['npx', '--no', '--', 'electron-vite', 'build'] },
  {
    name: 'vitest',
    cmd: [
      'npx',
      '--no',
      '--',
      'vitest',
      'run',
      '--reporter=default',
      '--reporter=json',
      `--outputFile=${join(tmp, 'vitest.json')}`,
    ],
    counts: vitestCounts(join(tmp, 'vitest.json')),
  },
  // The UI in Chromium against web mode, and the Electron app where a binary exists (after 'build').
  {
    name: 'e2e',
    cmd: ['npx', '--no', '--', 'playwright', 'test'],
    env: { SADPM_PW_JSON: join(tmp, 'playwright.json') },
    counts: playwrightCounts(join(tmp, 'playwright.json')),
  },
];

/** Runs one command with inherited stdio (output streams live) and resolves with its exit code. */
function run(cmd, extraEnv = {}) {
  return new Promise((resolvePromise) => {
    const [bin, ...args] = cmd;
    // shell on Windows only, so that npx.cmd is found; elsewhere no shell, no quoting surprises.
    const child = spawn(bin, args, {
      stdio: 'inherit',
      env: { ...env, ...extraEnv },
      shell: process.platform === 'win32',
    });
    child.on('error', (err) => {
      console.error(`[test-all] could not start ${bin}: ${err.message}`);
      resolvePromise(127);
    });
    child.on('close', (code, signal) => resolvePromise(code ?? (signal ? 128 : 1)));
  });
}

const only = process.argv.slice(2);
const unknown = only.filter((n) => !suites.some((s) => s.name === n));
if (unknown.length > 0) {
  console.error(`[test-all] unknown suite(s): ${unknown.join(', ')}; known: ${suites.map((s) => s.name).join(', ')}`);
  process.exit(2);
}
const selected = only.length > 0 ? suites.filter((s) => only.includes(s.name)) : suites;

const total = { passed: 0, failed: 0, skipped: 0 };
const rows = [];
try {
  for (const suite of selected) {
    console.log(`\n=== ${suite.name}: ${suite.cmd.join(' ')}`);
    const started = Date.now();
    const code = await run(suite.cmd, suite.env);
    const counts = suite.counts
      ? suite.counts(code)
      : { passed: code === 0 ? 1 : 0, failed: code === 0 ? 0 : 1, skipped: 0 };
    total.passed += counts.passed;
    total.failed += counts.failed;
    total.skipped += counts.skipped;
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    // Deliberately not in the "N passed, N failed" form, so that only the final line matches it.
    rows.push(
      `  ${counts.failed > 0 ? 'FAIL' : 'ok  '} ${suite.name.padEnd(20)} pass ${counts.passed} / fail ${counts.failed} / skip ${counts.skipped}  (${seconds} s, exit ${code})`,
    );
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

console.log('\n=== summary');
for (const row of rows) console.log(row);
// The one line the CI reads. Keep it last and exactly in this form.
console.log(`${total.passed} passed, ${total.failed} failed, ${total.skipped} skipped`);
process.exitCode = total.failed > 0 ? 1 : 0;
