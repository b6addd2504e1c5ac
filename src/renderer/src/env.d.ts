/// <reference types="vite/client" />

// What the preload exposes (src/preload/index.ts). The typed contract in src/shared replaces this later;
// the renderer does not import preload code (layer rule), so the shape is restated here.
interface Window {
  readonly api?: { readonly version: string };
}
