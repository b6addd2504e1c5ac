/** Contract handlers of evaluation, the SA-vs-baseline study and the settings (issue 12). */
import type { Services } from '../services';
import { storedCheckpoint } from '../useCases/checkpointTarget';
import { evaluateCheckpoint } from '../useCases/evaluate';
import { assertComparable, buildStudy } from '../useCases/study';
import { runStudyReport } from '../useCases/studyReport';
import { saveSettings, settingsView } from '../settings';
import { failAs, type Handlers } from './dispatch';
import { requireRun } from './runHandlers';

type EvalHandlers = Pick<
  Handlers,
  'eval.start' | 'eval.list' | 'eval.curves' | 'study.get' | 'study.report' | 'settings.get' | 'settings.set'
>;

export function evalHandlers(s: Services): EvalHandlers {
  const root = s.store.layout.root;
  return {
    'eval.start': ({ checkpointId, ...settings }) => {
      const target = failAs('not_found', () => storedCheckpoint(s.store, checkpointId));
      const jobId = s.jobs.start('eval', (signal, onProgress) =>
        evaluateCheckpoint(s, target, settings, { signal, onProgress }),
      );
      return { jobId };
    },
    'eval.list': ({ runId }) => s.store.evals.list(requireRun(s, runId).id),
    'eval.curves': ({ runIds, ...q }) =>
      s.store.evals.curves({ runIds: runIds.map((id) => requireRun(s, id).id), ...q }),
    'study.get': (req) => failAs('invalid', () => buildStudy(s.store, req)),
    'study.report': (req) => {
      // Refuse a bad study at once (unknown runs, different data or model), not as a failed job later.
      failAs('invalid', () => assertComparable(buildStudy(s.store, req)));
      const jobId = s.jobs.start('study', (signal, onProgress) => runStudyReport(s, req, { signal, onProgress }));
      return { jobId };
    },
    'settings.get': () => settingsView(root),
    'settings.set': async (patch) => {
      failAs('invalid', () => saveSettings(root, patch));
      return settingsView(root);
    },
  };
}
