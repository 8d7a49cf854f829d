/**
 * Noticing that the registry file changed. Writers replace it with a
 * `rename`, which ends a watch on the file itself (the watched inode is gone),
 * so the watch is on its directory, filtered by name. `fs.watch` is not
 * reliable everywhere (network file systems, some containers), so a `stat`
 * poll runs beside it as a safety net. Nothing here keeps the process alive.
 */
import { watch, type FSWatcher } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';

/** The signature of a missing file. */
export const MISSING = 'missing';

/** What identifies one version of the file: inode, size and modification time; or {@link MISSING}. */
export async function fileSignature(file: string): Promise<string> {
  try {
    const s = await stat(file);
    return `${s.ino}:${s.size}:${s.mtimeMs}`;
  } catch {
    return MISSING;
  }
}

export interface RegistryWatcher {
  /** Records the signature of the file just read, so the poll does not report it as a change. */
  remember(signature: string): void;
  close(): void;
}

export interface WatchRegistryOptions {
  readonly fsWatch: boolean;
  readonly pollIntervalMs: number;
  readonly debounceMs: number;
}

/** Calls `onChange` (debounced) whenever the file may have changed. */
export function watchRegistry(file: string, onChange: () => void, options: WatchRegistryOptions): RegistryWatcher {
  const name = path.basename(file);
  let seen: string | undefined;
  let closed = false;
  let debounce: NodeJS.Timeout | undefined;
  let polling = false;
  let watcher: FSWatcher | undefined;

  const schedule = (): void => {
    if (closed) return;
    clearTimeout(debounce);
    debounce = setTimeout(() => {
      if (!closed) onChange();
    }, options.debounceMs);
    debounce.unref();
  };

  if (options.fsWatch) {
    try {
      watcher = watch(path.dirname(file), { persistent: false }, (_event, changed) => {
        // Some platforms do not report the name; then any change may be ours.
        if (changed === null || changed === name) schedule();
      });
      // The directory went away, or the platform gave up: the poll carries on.
      watcher.on('error', () => {
        watcher?.close();
        watcher = undefined;
      });
    } catch {
      watcher = undefined; // no directory yet, or no fs.watch here: the poll covers it
    }
  }

  const poll = setInterval(() => {
    if (polling || closed) return;
    polling = true;
    void fileSignature(file).then((signature) => {
      polling = false;
      if (closed || signature === seen) return;
      seen = signature;
      schedule();
    });
  }, options.pollIntervalMs);
  poll.unref();

  return {
    remember(signature) {
      seen = signature;
    },
    close() {
      closed = true;
      clearTimeout(debounce);
      clearInterval(poll);
      watcher?.close();
      watcher = undefined;
    },
  };
}
