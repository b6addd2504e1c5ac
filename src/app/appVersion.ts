import { readFileSync } from 'node:fs';
import { join } from 'node:path';

let cached: string | undefined;

/** The version in package.json (two folders up from src/main and from out/main). */
export function appVersion(): string {
  if (cached === undefined) {
    try {
      cached = String(
        (JSON.parse(readFileSync(join(import.meta.dirname, '../../package.json'), 'utf8')) as { version: string })
          .version,
      );
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
