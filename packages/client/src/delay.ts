/** The longest delay a timer keeps: `setTimeout` runs a longer one (or `Infinity`) at once. */
export const LONGEST_DELAY = 2 ** 31 - 1;

/**
 * An option in milliseconds: `fallback` when it is left out.
 * @throws {TypeError} naming `where` when it is not a number from `min` to {@link LONGEST_DELAY}.
 */
export function delayOption(where: string, value: number | undefined, fallback: number, min: number): number {
  if (value === undefined) return fallback;
  if (!(typeof value === 'number' && value >= min && value <= LONGEST_DELAY)) {
    throw new TypeError(
      `${where} must be a number of milliseconds from ${min} to ${LONGEST_DELAY}, got ${String(value)}`,
    );
  }
  return value;
}
