/** sadpm import and sadpm datasets: the dataset library (or a standalone packed file with --out). */
import { statSync } from 'node:fs';
import { resolve } from 'node:path';
import { CLASS_MODES, IMPORT_FORMATS } from '../../shared/engineMessages';
import { forkEngine } from '../../app/engineProcess';
import { importIntoLibrary, importToFile } from '../../app/datasetLibrary';
import { flagChoice, flagString, isJson, optionalPositiveInt, rejectUnknown, type ParsedArgs } from '../args';
import { fmtBytes } from '../progress';
import { openStore } from '../storeAccess';
import { printTable } from '../table';

export function cmdDatasets(args: ParsedArgs): number {
  rejectUnknown(args.flags, ['data-dir', 'json'], 'datasets');
  const store = openStore(args);
  try {
    const list = store.datasets.list();
    if (isJson(args)) {
      console.log(JSON.stringify(list));
      return 0;
    }
    if (list.length === 0) {
      console.log("no datasets in the library yet: 'sadpm import PATH' adds one (runs can also use builtin:shapes)");
      return 0;
    }
    printTable(
      ['id', 'name', 'images', 'shape', 'format', 'classes', 'size', 'checksum'],
      list.map((d) => [
        `#${d.id}`,
        d.name,
        String(d.count),
        `${d.height}x${d.width}x${d.channels}`,
        d.format,
        d.classCounts ? String(d.classCounts.length) : '-',
        fmtBytes(d.bytes),
        d.checksum.slice(0, 12),
      ]),
    );
    return 0;
  } finally {
    store.close();
  }
}

/** Import into the library (default) or, with --out, into a standalone packed file: one engine job either way. */
export async function cmdImport(args: ParsedArgs): Promise<number> {
  const out = flagString(args.flags, 'out');
  const allowed = ['format', 'classes', 'size', 'grayscale', 'strict', 'limit', 'labels', 'json'];
  rejectUnknown(args.flags, out ? ['out', ...allowed] : ['data-dir', 'name', ...allowed], 'import');
  // Checked here, before any process starts, so a typo gets the valid values at once.
  const format = flagChoice(args.flags, 'format', IMPORT_FORMATS, 'auto');
  const classes = args.flags.has('classes') ? flagChoice(args.flags, 'classes', CLASS_MODES, 'auto') : undefined;
  const input = args.positional[0];
  if (!input) throw new Error('give the dataset path (or builtin:<name>) to import');
  const json = isJson(args);
  const job = {
    input: input.startsWith('builtin:') ? input : resolve(input),
    format,
    classes,
    size: optionalPositiveInt(args, 'size'),
    grayscale: args.flags.get('grayscale') === true,
    strict: args.flags.get('strict') === true,
    labelsPath: flagString(args.flags, 'labels'),
    limit: optionalPositiveInt(args, 'limit'),
  };
  const progress = {
    onProgress: (done: number, total: number) => {
      if (!json && process.stderr.isTTY) process.stderr.write(`\r\x1b[Kimporting ${done}/${total}`);
    },
  };
  const clearLine = () => {
    if (!json && process.stderr.isTTY) process.stderr.write('\r\x1b[K');
  };
  if (out) {
    const res = await importToFile(forkEngine, job, out, progress);
    clearLine();
    if (json) {
      const report = { good: res.good, skipped: res.skipped, notes: res.notes };
      console.log(JSON.stringify({ out: res.out, header: res.header, report }));
      return 0;
    }
    const h = res.header;
    console.log(`imported ${h.count} images (${h.height}x${h.width}x${h.channels}, ${h.format}) into ${res.out}`);
    printReport(res);
    console.log(`train on it: sadpm train --dataset ${res.out}`);
    return 0;
  }
  const store = openStore(args);
  try {
    const res = await importIntoLibrary(store, forkEngine, { ...job, name: flagString(args.flags, 'name') }, progress);
    clearLine();
    if (json) {
      console.log(JSON.stringify(res));
      return 0;
    }
    const d = res.dataset;
    if (res.duplicate) {
      const what = `dataset '${d.name}' (#${d.id}, checksum ${d.checksum.slice(0, 12)})`;
      console.log(`already in the library: these images are ${what}; nothing new was stored`);
    } else {
      const shape = `${d.height}x${d.width}x${d.channels}`;
      console.log(`imported ${d.count} images (${shape}, ${d.format}) as dataset '${d.name}' (#${d.id})`);
      console.log(`  file: ${d.path} (${fmtBytes(statSync(d.path).size)})`);
      if (d.previewPath) console.log(`  preview: ${d.previewPath}`);
    }
    printReport(res.report);
    if (res.report.classCounts) {
      console.log(`  classes: ${res.report.classCounts.map((n, i) => `${d.classNames?.[i] ?? i}: ${n}`).join(', ')}`);
    }
    console.log(`train on it: sadpm train --dataset ${d.name}`);
    return 0;
  } finally {
    store.close();
  }
}

function printReport(r: { good: number; skipped: { file: string; reason: string }[]; notes: string[] }): void {
  console.log(`  good: ${r.good}, skipped: ${r.skipped.length}`);
  for (const n of r.notes) console.log(`  ${n}`);
  for (const s of r.skipped.slice(0, 20)) console.log(`    ${s.file}: ${s.reason}`);
  if (r.skipped.length > 20) console.log(`    ... and ${r.skipped.length - 20} more`);
}
