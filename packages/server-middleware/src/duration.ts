/**
 * A duration as people read it, the same in the server's log and the CLI's output (an old copy of the Redis
 * registry's age, the census's and `daylight gate`'s windows): `2h 10m`, `3d 4h`, `45s`.
 */
export function formatDuration(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  // Whole days only from two days on: "24h" reads better than "1d".
  const d = seconds >= 2 * 86_400 ? Math.floor(seconds / 86_400) : 0;
  const h = Math.floor((seconds - d * 86_400) / 3_600);
  const m = Math.floor((seconds % 3_600) / 60);
  const parts = [d > 0 ? `${d}d` : '', h > 0 ? `${h}h` : '', m > 0 ? `${m}m` : ''].filter(Boolean);
  return parts.length === 0 ? `${seconds}s` : parts.slice(0, 2).join(' ');
}
