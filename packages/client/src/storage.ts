/**
 * Per-tab memory that survives the switch's reload: sessionStorage, which
 * belongs to one tab and outlives its navigations. Every access is guarded:
 * storage can be disabled, full, or throw in private modes, and Daylight
 * must keep working (it then only loses its loop memory across reloads).
 */
const PREFIX = 'daylight:';

export function readJson<T>(key: string): T | undefined {
  try {
    const text = sessionStorage.getItem(PREFIX + key);
    return text === null ? undefined : (JSON.parse(text) as T);
  } catch {
    return undefined;
  }
}

export function writeJson(key: string, value: unknown): boolean {
  try {
    if (value === undefined) sessionStorage.removeItem(PREFIX + key);
    else sessionStorage.setItem(PREFIX + key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}
