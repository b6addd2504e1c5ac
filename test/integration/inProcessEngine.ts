/**
 * The real engine host (serveCommands) in the test's own process, behind the EngineProcess interface: use cases
 * run their engine jobs end to end without forking a child (faster, and the backend is initialised once).
 */
import { serveCommands } from '../../src/engine/host';
import type { EngineCommand, HostMessage } from '../../src/shared/engineMessages';
import type { SpawnEngine } from '../../src/app/engineProcess';

export function inProcessSpawner(commands: EngineCommand[]): SpawnEngine {
  return () => {
    let onMsg: (m: HostMessage) => void = () => {};
    let onExit: (code: number | null, signal: string | null) => void = () => {};
    let deliver: (raw: unknown) => void = () => {};
    serveCommands({ send: (m) => setImmediate(() => onMsg(m)), onMessage: (fn) => (deliver = fn) }, (code) =>
      setImmediate(() => onExit(code, null)),
    );
    return {
      pid: process.pid,
      stderrTail: () => '',
      send: (cmd) => {
        commands.push(cmd);
        deliver(cmd);
      },
      onMessage: (fn) => (onMsg = fn),
      onExit: (fn) => (onExit = fn),
      kill: () => onExit(null, 'SIGKILL'),
    };
  };
}
