/** Test helper, not exported from the package. */

/** Distinct session ids like the client makes (12 characters of A-Z a-z 0-9 _ -), from a seeded generator. */
export function sessionIds(count: number, seed = 1): string[] {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
  let state = seed >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) & 63;
  };
  const ids = new Set<string>();
  while (ids.size < count) {
    let id = '';
    for (let i = 0; i < 12; i++) id += alphabet[next()];
    ids.add(id);
  }
  return [...ids];
}
