/**
 * Quoting for the shells a Slurm job meets: the batch script (bash), a login shell over ssh (POSIX sh, bash, zsh)
 * and sbatch's own #SBATCH directive parser (which accepts the same single-quote form in Slurm 22.05).
 */

/** Characters that never need quotes as a word in sh, bash or zsh (no `=`, `~`, globs, or anything expanded). */
const PLAIN_WORD = /^[A-Za-z0-9_@%+:,./-]+$/;

/**
 * One shell word that the shell turns back into exactly `s`: single quotes, with each `'` written as `'\''`.
 * Inside single quotes nothing is special ($, `, \, ", newlines), so this is exact for any text but NUL, which no
 * shell word and no argv entry can carry.
 */
export function shQuote(s: string): string {
  if (s.includes('\0')) throw new Error(`a shell word cannot hold a NUL character: ${JSON.stringify(s)}`);
  if (PLAIN_WORD.test(s)) return s;
  return `'${s.replaceAll("'", `'\\''`)}'`;
}

/** A command line of shell words: `argv` quoted and joined by spaces. */
export function shJoin(argv: readonly string[]): string {
  return argv.map(shQuote).join(' ');
}

/**
 * A literal path inside a Slurm file name pattern (--output, --error): `%` starts a replacement there
 * (%j, %A, %a, ...), and `%%` stands for one `%`.
 */
export function slurmPatternLiteral(path: string): string {
  return path.replaceAll('%', '%%');
}
