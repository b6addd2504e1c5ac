/**
 * Messages the engine emits while it trains or samples. The CLI prints them (`--json`: one per
 * line), the app's engine host forwards them to the store and the renderer.
 */
import { z } from 'zod';

export const MemoryInfoSchema = z.object({
  numTensors: z.number().int(),
  numBytes: z.number(),
  /** Bytes held on the GPU by the backend (webgpu buffer pool), when known. */
  gpuBytes: z.number().optional(),
  /** Peak of gpuBytes since the run started, when known. */
  peakGpuBytes: z.number().optional(),
});

export const StartedMessageSchema = z.object({
  type: z.literal('started'),
  runDir: z.string(),
  step: z.number().int(),
  totalSteps: z.number().int(),
  backend: z.string(),
  adapter: z.string(),
  params: z.number().int(),
  datasetCount: z.number().int(),
  resumed: z.boolean(),
});

export const ProgressMessageSchema = z.object({
  type: z.literal('progress'),
  step: z.number().int(),
  totalSteps: z.number().int(),
  loss: z.number(),
  simple: z.number(),
  sa: z.number(),
  gradNorm: z.number(),
  lr: z.number(),
  imagesPerSec: z.number(),
  msPerStep: z.number(),
  etaSec: z.number(),
  memory: MemoryInfoSchema,
});

export const GapMessageSchema = z.object({
  type: z.literal('gap'),
  step: z.number().int(),
  t0: z.number().int(),
  /** Paper timesteps t (1-based) of each entry, from t0 - 1 down to 1. */
  t: z.array(z.number().int()),
  meanAbs: z.array(z.number()),
  l2: z.array(z.number()),
  signedMean: z.array(z.number()),
  path: z.string().optional(),
});

export const CheckpointMessageSchema = z.object({
  type: z.literal('checkpoint'),
  step: z.number().int(),
  path: z.string(),
  bytes: z.number().int(),
});

export const SamplesMessageSchema = z.object({
  type: z.literal('samples'),
  step: z.number().int(),
  path: z.string(),
  n: z.number().int(),
  sampler: z.string(),
  sampleSteps: z.number().int(),
  ema: z.boolean(),
});

export const FinishedMessageSchema = z.object({
  type: z.literal('finished'),
  step: z.number().int(),
  reason: z.enum(['completed', 'stopped']),
  runDir: z.string(),
});

export const FailedMessageSchema = z.object({
  type: z.literal('failed'),
  step: z.number().int(),
  reason: z.string(),
});

export const LogMessageSchema = z.object({
  type: z.literal('log'),
  level: z.enum(['info', 'warn', 'error']),
  message: z.string(),
});

export const EngineMessageSchema = z.discriminatedUnion('type', [
  StartedMessageSchema,
  ProgressMessageSchema,
  GapMessageSchema,
  CheckpointMessageSchema,
  SamplesMessageSchema,
  FinishedMessageSchema,
  FailedMessageSchema,
  LogMessageSchema,
]);

export type MemoryInfo = z.infer<typeof MemoryInfoSchema>;
export type StartedMessage = z.infer<typeof StartedMessageSchema>;
export type ProgressMessage = z.infer<typeof ProgressMessageSchema>;
export type GapMessage = z.infer<typeof GapMessageSchema>;
export type CheckpointMessage = z.infer<typeof CheckpointMessageSchema>;
export type SamplesMessage = z.infer<typeof SamplesMessageSchema>;
export type FinishedMessage = z.infer<typeof FinishedMessageSchema>;
export type FailedMessage = z.infer<typeof FailedMessageSchema>;
export type EngineMessage = z.infer<typeof EngineMessageSchema>;

export type EngineSink = (msg: EngineMessage) => void;
