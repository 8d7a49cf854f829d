/**
 * The server's local copy of the last registry it took from Redis, so that a
 * server that starts (a restart, an autoscale) while Redis cannot be reached
 * still has a registry to serve (docs/decisions.md, "A local copy of the Redis
 * registry").
 *
 * It lives beside `config`, next to the `releases/` folder the server already
 * reads: a server without that folder has nothing to serve anyway, and a shared
 * folder (the usual Redis set-up) hands the copy to a server that never ran
 * before; a server never writes an earlier registry over a later one another
 * server saved there. Its name carries a hash of the store (Redis URL without
 * credentials, database, key prefix) and the file says which store it is for,
 * so a copy of another database or prefix is never taken. Saving is best
 * effort: a folder the server cannot write (read-only, another owner) is said
 * once and the server goes on without the copy.
 *
 * ```json
 * { "daylight": "redis-registry-copy", "store": "redis://10.0.0.5:6379/0", "prefix": "daylight",
 *   "savedAt": "2026-11-29T16:50:00.000Z", "registry": { "schema": 1, "current": "1.4.0", … } }
 * ```
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { formatDuration } from './duration.js';
import { parseRedisLocation } from './redis-location.js';
import { readJsonFile, validateRegistry, writeFileAtomically, type Registry } from './registry.js';
import type { DaylightLogger } from './types.js';

/** What the copy's `daylight` member says, so that no other JSON file is ever taken for one. */
const KIND = 'redis-registry-copy';

/**
 * A copy saved longer ago than this is called old where it is served, with its age: the fleet may have promoted,
 * halted or pinned since. A day: a copy is written again every hour while Redis answers (COPY_REFRESH_MS), so only
 * a folder no server has written for a day, Redis answering, holds one; not an option, as nothing changes with it
 * but a sentence.
 */
export const OLD_COPY_MS = 24 * 60 * 60 * 1000;

/**
 * While Redis answers, a server writes its unchanged registry again this often, so the copy's `savedAt` says when
 * Redis last gave it, not when it last changed: a registry left alone for a week is not an old copy.
 */
export const COPY_REFRESH_MS = 60 * 60 * 1000;

/**
 * How old a copy saved at `savedAt` is, once it is old ({@link OLD_COPY_MS}): `30h`, `3d 5h`.
 * @returns undefined for a younger copy, or one whose time is unknown or ahead of this clock
 */
export function oldCopyAge(savedAt: string, now = Date.now()): string | undefined {
  const age = now - Date.parse(savedAt);
  if (!(age >= OLD_COPY_MS)) return undefined; // NaN: no time to say anything about
  return formatDuration(age);
}

/** A copy read back: its registry validated, and when it was saved. */
export type CopyRead =
  | { readonly ok: true; readonly registry: Registry; readonly savedAt: string }
  | { readonly ok: false; readonly error: string };

/**
 * The store a URL names, without what does not change the data: credentials, a default port or database.
 * @example storeOf('redis://:secret@10.0.0.5') // 'redis://10.0.0.5:6379/0'
 */
export function storeOf(url: string): string {
  try {
    const { database } = parseRedisLocation(url);
    const parsed = new URL(url);
    return `${parsed.protocol}//${parsed.hostname}:${parsed.port === '' ? '6379' : parsed.port}/${database}`;
  } catch {
    return url; // the server's options refuse it first; the name still depends on it
  }
}

/** The copy's path for a store: beside `configPath`, named by a hash of the store and the prefix. */
export function copyPathFor(configPath: string, url: string, prefix: string): string {
  const hash = createHash('sha256')
    .update(`${storeOf(url)}\n${prefix}`)
    .digest('hex')
    .slice(0, 12);
  const stem = path.basename(configPath, '.json');
  return path.join(path.dirname(configPath), `${stem}.redis-copy-${hash}.json`);
}

export class RegistryCopy {
  readonly file: string;
  readonly #store: string;
  readonly #prefix: string;
  readonly #logger: DaylightLogger;
  readonly #refreshMs: number;
  /** The registry text saved last: the same registry is not written again (but for the hourly refresh). */
  #saved: string | undefined;
  /** The registry saved last, and when its write was asked for (ms): what refresh() writes again, and when. */
  #last: Registry | undefined;
  #queuedAt = 0;
  /** Saves run one after the other, so this server's older registry never lands after its newer one. */
  #tail: Promise<void> = Promise.resolve();
  #warned = false;

  constructor(options: {
    configPath: string;
    url: string;
    prefix: string;
    logger: DaylightLogger;
    /** @default COPY_REFRESH_MS */
    refreshMs?: number | undefined;
  }) {
    this.file = copyPathFor(options.configPath, options.url, options.prefix);
    this.#store = storeOf(options.url);
    this.#prefix = options.prefix;
    this.#logger = options.logger;
    this.#refreshMs = options.refreshMs ?? COPY_REFRESH_MS;
  }

  /**
   * Reads and validates the copy; never throws. What it reads is not taken as saved: the same registry from
   * Redis, once it answers, is written again, dating the copy to that answer.
   */
  async read(): Promise<CopyRead> {
    const read = await readJsonFile(this.file);
    if (!read.ok) {
      return {
        ok: false,
        error: read.missing ? `there is no copy in ${this.file}` : `the copy in ${this.file} ${read.error}`,
      };
    }
    const parsed = read.value as Partial<
      Record<'daylight' | 'store' | 'prefix' | 'savedAt' | 'registry', unknown>
    > | null;
    // The name's hash could collide, and a file could be copied over from another set-up: the file must say.
    if (parsed?.daylight !== KIND || parsed.store !== this.#store || parsed.prefix !== this.#prefix) {
      return {
        ok: false,
        error: `${this.file} is not a copy of the registry of ${this.#store} with the prefix "${this.#prefix}"`,
      };
    }
    const check = validateRegistry(parsed.registry);
    if (!check.ok) return { ok: false, error: `the copy in ${this.file} is invalid: ${check.error}` };
    return { ok: true, registry: check.registry, savedAt: typeof parsed.savedAt === 'string' ? parsed.savedAt : '?' };
  }

  /**
   * Saves `registry`, which Redis gave when asked at `askedAt` (ms), in the background unless it is the one saved
   * last; never throws, never rejects.
   */
  save(registry: Registry, askedAt: number): void {
    const text = JSON.stringify(registry);
    if (text === this.#saved) return;
    this.#saved = text;
    this.#last = registry;
    this.#queue(registry, askedAt);
  }

  /**
   * Redis gave the registry saved last again, asked at `askedAt`: writes it again once the last write is
   * COPY_REFRESH_MS old, so that `savedAt` stays the time Redis last gave it (an old copy is said when served).
   */
  refresh(askedAt: number): void {
    if (this.#last === undefined || Date.now() - this.#queuedAt < this.#refreshMs) return;
    this.#queue(this.#last, askedAt);
  }

  #queue(registry: Registry, askedAt: number): void {
    this.#queuedAt = Date.now();
    this.#tail = this.#tail.then(() => this.#write(registry, askedAt));
  }

  /** Resolves once the saves asked for so far are done (close(), tests). */
  settled(): Promise<void> {
    return this.#tail;
  }

  /**
   * Whether the copy on disk is later than `registry`, which Redis gave when asked at `askedAt`: a higher revision
   * saved after that moment was taken from Redis after this server read it, by another server sharing the folder,
   * while this one was slow to write. A higher revision saved _before_ it is not later: Redis answered with a lower
   * one since, so the store was rebuilt (its revisions start again at 1) and Redis's registry is the truth. Equal
   * revisions of one store are one registry, written again (which dates the copy to the later read). A copy that
   * cannot be read or is invalid, or a registry without a revision (an older store), cannot be ordered: replaced.
   */
  async #laterOnDisk(registry: Registry, askedAt: number): Promise<boolean> {
    if (registry.revision === undefined) return false;
    const disk = await this.read();
    if (!disk.ok || disk.registry.revision === undefined) return false;
    return disk.registry.revision > registry.revision && Date.parse(disk.savedAt) >= askedAt;
  }

  /**
   * Writes atomically (a temporary file, then `rename`), so a server starting meanwhile reads a whole copy; not
   * over a later copy. Servers sharing the folder are not locked against each other: one may still write between
   * another's read and its `rename`, and the next registry written puts that right.
   */
  async #write(registry: Registry, askedAt: number): Promise<void> {
    if (await this.#laterOnDisk(registry, askedAt)) return;
    const body = {
      daylight: KIND,
      store: this.#store,
      prefix: this.#prefix,
      savedAt: new Date().toISOString(),
      registry,
    };
    try {
      await writeFileAtomically(this.file, `${JSON.stringify(body)}\n`);
    } catch (error) {
      this.#saved = undefined; // try again with the next registry: the folder may have become writable
      if (this.#warned) return;
      this.#warned = true;
      this.#logger.warn(
        `daylight: could not save the copy of the Redis registry to ${this.file} (${(error as Error).message}); this server goes on without it, but if it restarts while Redis cannot be reached it will have no registry to serve. Let the server write to ${path.dirname(this.file)} to keep the copy (said once)`,
      );
    }
  }
}
