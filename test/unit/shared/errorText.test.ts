/** Failure reasons keep the message and lose the native source locations Dawn appends. */
import { describe, expect, it } from 'vitest';
import { stripNativeLocations } from '../../../src/shared/errorText';
import { freshStore, newRun } from '../store/helpers';

const DAWN_SRC = '/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn';
const DAWN = `    at operator() (${DAWN_SRC}/native/vulkan/BackendVk.cpp:368)`;

describe('stripNativeLocations', () => {
  it('drops native source-location lines and " | " segments, keeping every message line', () => {
    const lost = `Device lost: out of memory\n    at CreateBuffer (../../src/dawn/native/Device.cpp:1234)\n${DAWN}`;
    expect(stripNativeLocations(lost)).toBe('Device lost: out of memory');
    expect(stripNativeLocations(`the engine process exited with code 1; stderr: Error: boom | ${DAWN}`)).toBe(
      'the engine process exited with code 1; stderr: Error: boom',
    );
    expect(stripNativeLocations(`x; stderr: ${DAWN.trim()} | Error: y`)).toBe('x; stderr: Error: y');
    expect(stripNativeLocations(`lost the device; stderr: ${DAWN.trim()}`)).toBe('lost the device');
  });

  it('leaves everything else alone, JavaScript locations included', () => {
    const jsStack = 'Error: x\n    at train (/app/src/engine/train/trainer.ts:12:3)';
    for (const s of ['plain', 'at step 4 (of 10)', jsStack, 'a | b']) {
      expect(stripNativeLocations(s)).toBe(s);
    }
  });

  it('is applied to every failure reason the store records', () => {
    const store = freshStore();
    try {
      const run = store.runs.create(newRun());
      store.runs.setStatus(
        run.id,
        'failed',
        `the engine process was killed (SIGABRT); stderr: Warning: lost | ${DAWN}`,
      );
      const kept = 'the engine process was killed (SIGABRT); stderr: Warning: lost';
      expect(store.runs.get(run.id)!.failureReason).toBe(kept);
    } finally {
      store.close();
    }
  });
});
