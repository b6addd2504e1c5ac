/**
 * sadpm info: the backend the engine would pick, its adapter, the kernel set it runs, and why each other backend was
 * not picked.
 */
import { BACKENDS } from '../../shared/config';
import { describeBackend, initBackend } from '../../engine/backend';
import { kernelChoice } from '../../engine/gpu/registry';
import { WINOGRAD_MODE } from '../../engine/gpu/winograd';
import { flagChoice, isJson, rejectUnknown, type ParsedArgs } from '../args';
import { fmtBytes } from '../progress';

export async function cmdInfo(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['backend', 'json'], 'info');
  const pref = flagChoice(args.flags, 'backend', BACKENDS, 'auto');
  const info = await initBackend(pref);
  const kernels = kernelChoice();
  if (isJson(args)) {
    const set = { set: kernels.set.name, reason: kernels.reason, winograd: winograd(kernels.set.name) };
    console.log(JSON.stringify({ ...info, kernels: set }));
    return 0;
  }
  const a = info.adapter;
  console.log(`backend:  ${info.name}`);
  console.log(`adapter:  ${describeBackend(info)}`);
  console.log(`vendor:   ${a.vendor}${a.architecture ? ` (${a.architecture})` : ''}`);
  console.log(`device:   ${a.device || a.description || '-'}`);
  console.log(`api:      ${a.api}${a.software ? ' (software adapter: expect CPU speed)' : ''}`);
  console.log(`features: ${a.features.length ? a.features.join(', ') : '-'}`);
  console.log(`kernels:  ${kernels.set.name} (${kernels.reason})`);
  console.log(`winograd: ${winogradText(kernels.set.name)}`);
  for (const r of info.rejected) console.log(`not ${r.name}: ${r.reason}`);
  console.log(
    `node ${process.version}, ${process.platform}-${process.arch}, memory ${fmtBytes(process.memoryUsage().rss)} rss`,
  );
  return 0;
}

/** Which 3×3 stride-1 convolutions run by Winograd F(4×4, 3×3): only the GPU kernel set has it. */
function winograd(set: string): 'all' | 'fwd' | 'off' {
  return set === 'wgsl' ? WINOGRAD_MODE : 'off';
}

function winogradText(set: string): string {
  if (set !== 'wgsl') return `off (the ${set} kernel set runs direct convolutions)`;
  if (WINOGRAD_MODE === 'all')
    return '3x3 stride-1 convolutions and both gradients by F(4x4,3x3) (SADPM_WINOGRAD=0: off)';
  if (WINOGRAD_MODE === 'fwd') return '3x3 stride-1 convolutions and input gradients (SADPM_WINOGRAD=fwd)';
  return 'off (SADPM_WINOGRAD=0)';
}
