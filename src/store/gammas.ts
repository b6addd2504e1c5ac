/**
 * Analytic-DPM's Γ estimates (issue 13), per run and key (the engine's gammaKey: checkpoint step, weights,
 * T, images, seed and trajectory). The estimate is a few hundred numbers, kept inline as JSON; the store
 * does not read it: the engine validates it when loading (parseGammaEstimate).
 */
import type { GammaRecord } from '../shared/records';
import { now, type Row, type StoreDb } from './db';

const toRecord = (r: Row): GammaRecord => ({
  runId: Number(r.run_id),
  key: String(r.key),
  checkpointStep: Number(r.checkpoint_step),
  estimate: JSON.parse(String(r.estimate)),
  createdAt: String(r.created_at),
});

export class GammaEstimates {
  private readonly s;

  constructor(sql: StoreDb) {
    const d = sql.conn;
    this.s = {
      upsert: d.prepare(`INSERT OR REPLACE INTO gamma_estimates (run_id, key, checkpoint_step, estimate, created_at)
        VALUES (@runId, @key, @checkpointStep, @estimate, @createdAt)`),
      get: d.prepare('SELECT * FROM gamma_estimates WHERE run_id = ? AND key = ?'),
      ofRun: d.prepare('SELECT * FROM gamma_estimates WHERE run_id = ? ORDER BY checkpoint_step, key'),
    };
  }

  put(g: Omit<GammaRecord, 'createdAt'>): GammaRecord {
    if (!g.key) throw new Error(`Γ estimate of run #${g.runId}: the key is empty`);
    const estimate = JSON.stringify(g.estimate);
    if (estimate === undefined) throw new Error(`Γ estimate ${g.key} of run #${g.runId}: nothing to store`);
    this.s.upsert.run({ ...g, estimate, createdAt: now() });
    return this.get(g.runId, g.key)!;
  }

  get(runId: number, key: string): GammaRecord | undefined {
    const r = this.s.get.get(runId, key) as Row | undefined;
    return r ? toRecord(r) : undefined;
  }

  list(runId: number): GammaRecord[] {
    return (this.s.ofRun.all(runId) as Row[]).map(toRecord);
  }
}
