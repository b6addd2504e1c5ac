/**
 * Checkpoints a run can start from (RunConfig.initFrom): a .sadpm-ck file of any run, or a built-in starter
 * shipped in the repository's assets/starters/. A starter is an ordinary checkpoint that this tool trained
 * (the script that made it is named beside it), so a first run on a machine without a GPU can continue a
 * model that already draws the built-in shapes instead of showing noise after its few minutes.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface StarterSpec {
  id: string;
  file: string;
  description: string;
}

export const BUILTIN_STARTERS: readonly StarterSpec[] = [
  {
    id: 'builtin:starter-shapes',
    file: 'shapes-ch32-sa2.sadpm-ck',
    description:
      "the tiny model at ch 32 (cosine schedule, T 1000) trained with SA-2 on builtin:shapes by bench/remote-demo.sh's " +
      'SET=starter on an H200 (assets/starters/README.md)',
  },
];

/** The folder holding assets/starters: SADPM_ASSETS, else the nearest one above this module. */
function startersDir(): string | null {
  if (process.env.SADPM_ASSETS) return join(process.env.SADPM_ASSETS, 'starters');
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'assets', 'starters');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) return null;
    dir = up;
  }
}

/** The checkpoint file `initFrom` names; throws naming the field and what was expected. */
export function resolveInitFrom(initFrom: string): string {
  if (initFrom.startsWith('builtin:')) {
    const spec = BUILTIN_STARTERS.find((s) => s.id === initFrom);
    if (!spec) {
      const known = BUILTIN_STARTERS.map((s) => s.id).join(', ');
      throw new Error(`initFrom: unknown built-in starter '${initFrom}'; known: ${known}`);
    }
    const dir = startersDir();
    const path = dir ? join(dir, spec.file) : null;
    if (!path || !existsSync(path)) {
      throw new Error(
        `initFrom: the file of ${initFrom} (assets/starters/${spec.file}) is missing from this installation` +
          (process.env.SADPM_ASSETS ? ` (SADPM_ASSETS=${process.env.SADPM_ASSETS})` : ''),
      );
    }
    return path;
  }
  const path = resolve(initFrom);
  if (!existsSync(path)) throw new Error(`initFrom: no checkpoint file at ${path}`);
  return path;
}
