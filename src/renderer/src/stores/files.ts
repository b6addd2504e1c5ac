/**
 * Images and files from the data folder arrive as data: URLs through `files.read` (the renderer
 * reads no files itself). A small LRU cache keeps recently shown ones.
 */
import { api } from '../api';

const MAX = 120;
const cache = new Map<string, Promise<{ dataUrl: string; bytes: number }>>();

export function readFile(path: string): Promise<{ dataUrl: string; bytes: number }> {
  const hit = cache.get(path);
  if (hit) {
    cache.delete(path);
    cache.set(path, hit);
    return hit;
  }
  const p = api().invoke('files.read', { path });
  cache.set(path, p);
  p.catch(() => cache.delete(path));
  while (cache.size > MAX) cache.delete(cache.keys().next().value!);
  return p;
}

/** Forget a cached file (it was rewritten). */
export function forgetFile(path: string): void {
  cache.delete(path);
}

/** Saves a file from the data folder through the browser's download (web mode). */
export async function downloadFile(path: string): Promise<void> {
  forgetFile(path);
  const { dataUrl } = await readFile(path);
  const a = document.createElement('a');
  a.href = dataUrl;
  a.download = path.split(/[\\/]/).pop() || 'download';
  document.body.appendChild(a);
  a.click();
  a.remove();
}
