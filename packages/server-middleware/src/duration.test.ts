import { describe, expect, it } from 'vitest';
import { formatDuration } from './duration.js';

describe('formatDuration', () => {
  it('gives the two largest units, whole days only from two days on', () => {
    const minute = 60_000;
    const hour = 60 * minute;
    expect(formatDuration(45_900)).toBe('45s');
    expect(formatDuration(2 * hour + 10 * minute + 59_000)).toBe('2h 10m');
    expect(formatDuration(30 * hour)).toBe('30h');
    expect(formatDuration(47 * hour + 59 * minute)).toBe('47h 59m');
    expect(formatDuration(3 * 24 * hour + 5 * hour + 7 * minute)).toBe('3d 5h');
    expect(formatDuration(-5000)).toBe('0s');
  });
});
