/** The model and loss flags that bench:train and bench:host share. */
import { flagString } from '../src/cli/args';
import { MODEL_PRESET_NAMES, type ModelPresetName } from '../src/shared/config';

/** --preset NAME and --loss plain|saK; K is 1 for plain. */
export function presetAndLoss(
  flags: Map<string, string | true>,
  defaultPreset: ModelPresetName,
): { preset: ModelPresetName; loss: string; k: number } {
  const preset = (flagString(flags, 'preset') ?? defaultPreset) as ModelPresetName;
  if (!MODEL_PRESET_NAMES.includes(preset)) throw new Error(`--preset: expected ${MODEL_PRESET_NAMES.join(', ')}`);
  const loss = flagString(flags, 'loss') ?? 'plain';
  const m = /^(plain|sa(\d+))$/.exec(loss);
  if (!m) throw new Error(`--loss: expected plain or saK (e.g. sa2), got '${loss}'`);
  return { preset, loss, k: m[2] ? Number(m[2]) : 1 };
}
