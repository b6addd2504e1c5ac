/** Build-time constants defined in electron.vite.config.ts. */
declare const __APP_VERSION__: string;
