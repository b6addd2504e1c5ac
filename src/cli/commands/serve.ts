/** sadpm serve: web mode, the app's services headless with the UI in a browser. */
import { join } from 'node:path';
import { flagNumber, flagString, rejectUnknown, type ParsedArgs } from '../args';
import { createServices } from '../../app/services';
import { forkEngine } from '../../app/engineProcess';
import { startWebServer } from '../../app/web/server';
import { resolveDataDir } from '../../store/dataDir';

export async function cmdServe(args: ParsedArgs): Promise<number> {
  rejectUnknown(args.flags, ['data-dir', 'port', 'concurrency', 'renderer'], 'serve');
  const port = flagNumber(args.flags, 'port', 0);
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new Error(`--port: expected 0..65535, got '${flagString(args.flags, 'port')}'`);
  const concurrency = flagNumber(args.flags, 'concurrency', 1);
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new Error(`--concurrency: expected a positive integer, got '${flagString(args.flags, 'concurrency')}'`);
  const rendererDir = flagString(args.flags, 'renderer') ?? join(import.meta.dirname, '../../../out/renderer');
  const services = createServices({
    dataDir: resolveDataDir(flagString(args.flags, 'data-dir')),
    spawn: forkEngine,
    mode: 'web',
    concurrency,
  });
  let server;
  try {
    server = await startWebServer({ services, rendererDir, port });
  } catch (err) {
    await services.close();
    throw err;
  }
  console.log(`SA-DPM Studio web mode (data: ${services.store.layout.root})`);
  console.log(`open: ${server.url}`);
  console.log(
    'remote box: ssh -L PORT:127.0.0.1:PORT host, then open the same URL locally. Ctrl-C stops (running runs are checkpointed).',
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  process.stderr.write('stopping: checkpointing running runs...\n');
  await server.close();
  await services.close();
  return 0;
}
