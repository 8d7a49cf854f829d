/**
 * Memory that survives the switch's reload. Per tab (sessionStorage, which
 * belongs to one tab and outlives its navigations) by default; per browser
 * (localStorage) for what every tab must know, such as a release that failed
 * to boot. Every access is guarded: storage can be disabled, full, or throw
 * in private modes, and Daylight must keep working (it then only loses its
 * memory across reloads).
 */
const PREFIX = 'daylight:';

function area(local: boolean): Storage {
  return local ? localStorage : sessionStorage;
}

export function readJson<T>(key: string, local = false): T | undefined {
  try {
    const text = area(local).getItem(PREFIX + key);
    return text === null ? undefined : (JSON.parse(text) as T);
  } catch {
    return undefined;
  }
}

/** Stores `value` as JSON, or removes the key when there is none; false when storage refused. */
export function writeJson(key: string, value?: unknown, local = false): boolean {
  try {
    if (value === undefined) area(local).removeItem(PREFIX + key);
    else area(local).setItem(PREFIX + key, JSON.stringify(value));
    return true;
  } catch {
    return false;
  }
}

/** Adds `item` to a stored list (at most `limit` entries, oldest dropped). */
export function pushJson(key: string, item: string, local = false, limit = 20): void {
  const list = (readJson<string[]>(key, local) ?? []).filter((x) => x !== item);
  writeJson(key, [...list, item].slice(-limit), local);
}
