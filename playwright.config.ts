/**
 * End-to-end tests: the UI in Debian's Chromium against web mode (test/e2e-web), and the same flow in
 * the Electron app where an Electron binary exists (test/e2e-electron; skipped with a reason otherwise).
 * Playwright downloads nothing: it drives /usr/bin/chromium (ENVIRONMENT.md). Reports go to
 * test-report/ because Playwright wipes test-results/ at start.
 */
import { defineConfig } from '@playwright/test';

export default defineConfig({
  testDir: 'test',
  timeout: 15 * 60_000,
  expect: { timeout: 30_000 },
  workers: 1,
  fullyParallel: false,
  outputDir: 'test-results',
  reporter: [
    ['list'],
    ['json', { outputFile: process.env.SADPM_PW_JSON ?? 'test-report/e2e.json' }],
    ['html', { outputFolder: 'test-report/html', open: 'never' }],
  ],
  use: { trace: 'retain-on-failure', screenshot: 'only-on-failure', viewport: { width: 1440, height: 900 } },
  projects: [
    {
      name: 'web',
      testMatch: 'e2e-web/**/*.spec.ts',
      use: {
        browserName: 'chromium',
        launchOptions: {
          executablePath: process.env.SADPM_CHROMIUM ?? '/usr/bin/chromium',
          args: [
            '--headless',
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        },
      },
    },
    { name: 'electron', testMatch: 'e2e-electron/**/*.spec.ts' },
  ],
});
