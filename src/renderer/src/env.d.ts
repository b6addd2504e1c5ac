/// <reference types="vite/client" />

// window.api (the preload) is typed where it is used: src/renderer/src/api/client.ts (PreloadApi),
// restated from the contract because the renderer does not import preload code (layer rule).
