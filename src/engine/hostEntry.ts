// Entry point of the engine process (see host.ts).
import { runHost } from './host';

process.env.EGL_PLATFORM ??= 'surfaceless';
runHost();
