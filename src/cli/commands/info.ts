/**
 * sadpm info: the backend the engine would pick, its adapter, the kernel set it runs, and why each other backend was
 * not picked.
 */
import { BACKENDS } from '../../shared/config';
import { describeBackend, initBackend } from '../../engine/backend';
import { kernelChoice } from '../../engine/gpu/registry';
import { flagChoice, isJson, rejectUnknown, type ParsedArgs } from '../args';
import { fmtBytes } from '../progress';

export async function cmdInfo(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['backend', 'json'], 'info');
  const pref = flagChoice(args.flags, 'backend', BACKENDS, 'auto');
  const info = await initBackend(pref);
  const kernels = kernelChoice();
  if (isJson(args)) {
    console.log(JSON.stringify({ ...info, kernels: { set: kernels.set.name, reason: kernels.reason } }));
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
  for (const r of info.rejected) console.log(`not ${r.name}: ${r.reason}`);
  console.log(
    `node ${process.version}, ${process.platform}-${process.arch}, memory ${fmtBytes(process.memoryUsage().rss)} rss`,
  );
  return 0;
}
