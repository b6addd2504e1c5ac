import { describe, expect, it } from 'vitest';
import { drawText, textWidth } from '../../../src/engine/render/bitmapFont';

/** Draws `text` at scale 1 on a black canvas just large enough and returns which pixels are lit. */
function lit(text: string): boolean[] {
  const width = textWidth(text, 1) + 2;
  const rgba = new Uint8Array(width * 9 * 4);
  drawText(rgba, width, 1, 1, text, 1, [255, 255, 255]);
  return Array.from({ length: width * 9 }, (_, i) => rgba[i * 4]! > 0);
}

describe('the bitmap font', () => {
  it("draws a frame's timestep t unlike the step count T, and other letters upper-case", () => {
    expect(lit('t=5')).not.toEqual(lit('T=5'));
    expect(lit('step')).toEqual(lit('STEP'.replace('T', 't')));
    expect(lit('ema')).toEqual(lit('EMA'));
  });
});
