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

/**
 * Refuses options that are not an object, or that have a key other than `names`: a typo (`timeuot`) would
 * otherwise be ignored without a word, and the default taken in its place.
 * @throws {TypeError} naming `where`, the key and the options there are.
 */
export function optionNames<T extends object>(where: string, options: T, names: readonly (keyof T & string)[]): void {
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`${where}: options must be an object, got ${String(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!(names as readonly string[]).includes(key)) {
      throw new TypeError(`${where}: there is no option "${key}"; the options are ${names.join(', ')}`);
    }
  }
}
