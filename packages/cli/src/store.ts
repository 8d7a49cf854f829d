/**
 * Where releases live. Commands talk to a {@link ReleaseStore}, picked by
 * {@link openStore} from `--store`: the directory store of docs/design.md
 * ("On disk: the release store"), or a Redis store (`redis://…`) that keeps
 * the registry and the audit log in Redis and the release folders on disk
 * (`--releases`, a folder every server reads).
 */
import { randomBytes } from 'node:crypto';
import { copyFile, mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { validateManifest, type ReleaseManifest } from '@daylight/protocol';
import {
  RedisRegistry,
  RegistryConflictError,
  type RedisUnreachableError,
  auditFileOf,
  emptyRegistry,
  RegistryLockedError,
  lockRegistryFile,
  readAuditFile,
  readManifestFile,
  releaseDir,
  validateRegistry,
  writeRegistryFile,
  writeFileAtomically,
  parseRedisLocation,
  type AuditEntry,
  type Registry,
  type RedisLocation,
} from '@daylight/server-middleware';
import { hashFile, type BuildFile } from './build.js';
import { DaylightCliError, errnoCode } from './errors.js';

/** The registry as read, and what is needed to write it back safely. */
export interface StoreSnapshot {
  readonly registry: Registry;
  /** False when there is no registry yet (an empty one was returned). */
  readonly exists: boolean;
  /** Opaque: changes whenever the registry is written. */
  readonly revision: string | undefined;
}

/** A release's manifest as found in the store. */
export type ManifestRead =
  { readonly ok: true; readonly manifest: ReleaseManifest } | { readonly ok: false; readonly error: string };

export interface ReleaseStore {
  /** Where the store is, for messages: the registry file's absolute path. */
  readonly location: string;
  /**
   * Reads and validates the registry. A missing registry reads as an empty
   * one with `exists: false`; the command decides whether that is an error.
   * @throws {DaylightCliError} `registry` when it cannot be read or is invalid.
   */
  read(): Promise<StoreSnapshot>;
  /** Where a release's folder is (or would be), for messages. */
  releaseLocation(version: string): string;
  /** The release's manifest, validated against its version. */
  readManifest(version: string): Promise<ManifestRead>;
  /**
   * Changes the registry: takes the store's lock, checks that nobody wrote
   * since `basedOn` was read, runs `change` (which may install release
   * folders with {@link ReleaseStore.installRelease}) and writes the registry it returns,
   * with an entry in the audit log.
   * @returns the new revision, and a `warning` when the registry was written but its audit
   *   entry was not (the change stands; the store also hands the warning to `onWarning`).
   * @throws {DaylightCliError} `conflict` when another command holds the lock or wrote in between;
   *   `io` or `registry` when the store cannot be written, the audit log included. The store is unchanged.
   */
  update(basedOn: StoreSnapshot, change: () => Promise<Registry>, record?: ChangeRecord): Promise<StoreUpdate>;
  /**
   * Puts a release's files and manifest in place, complete, before any registry names it.
   * Call only inside {@link ReleaseStore.update}.
   * @returns where the release now is.
   */
  installRelease(version: string, files: readonly BuildFile[], manifest: ReleaseManifest): Promise<string>;
  /** The last `limit` entries of the audit log, oldest first. */
  history(limit: number): Promise<AuditEntry[]>;
  /** Closes connections (Redis). */
  close(): Promise<void>;
}

/** What {@link ReleaseStore.update} did. */
export interface StoreUpdate {
  /** The registry's revision afterwards. */
  readonly revision: number;
  /**
   * Set when the registry was written but its audit entry could not be:
   * `changed (revision 5); the audit entry could not be written: …`. The change stands.
   */
  readonly warning?: string;
}

/** What a change records in the audit log. */
export interface ChangeRecord {
  /** `publish`, `promote`, `rollback`, … */
  readonly action: string;
  /** One line: `promote 1.1.0 to cohort pilot`. */
  readonly summary: string;
}

export interface OpenStoreOptions {
  /** Who makes the changes, for the audit log. @default 'unknown' */
  readonly actor?: string;
  /** For a Redis store: the folder that holds `releases/<version>/`. @default cwd */
  readonly releases?: string;
  /**
   * Told when a change was made but something after it failed (its audit
   * entry could not be written): the command succeeds, and the user must hear
   * of it. The CLI prints it on stderr.
   * @default process.emitWarning (Node prints it on stderr)
   */
  readonly onWarning?: (message: string) => void;
}

/** The options a store is constructed with. */
export interface StoreOptions {
  /** See {@link OpenStoreOptions.onWarning}. */
  readonly onWarning?: (message: string) => void;
}

function defaultOnWarning(message: string): void {
  process.emitWarning(message, 'DaylightWarning');
}

/** A `redis://` store location, checked: the URL to connect to, the key prefix and the database. */
export type RedisStoreLocation = RedisLocation;

/**
 * Reads a `redis://` (or `rediss://`) store location: `redis://host:6379/0?prefix=name`,
 * as the server reads its `redis` option (@daylight/server-middleware's parseRedisLocation):
 * a parameter other than `prefix`, a bad prefix or a database that is not an index is refused
 * rather than dropped (`?prefx=staging` would otherwise write to the default prefix, perhaps
 * production's; `/abc` to database 0).
 * @throws {DaylightCliError} `invalid-option`
 */
export function parseRedisStoreLocation(location: string): RedisStoreLocation {
  try {
    return parseRedisLocation(location);
  } catch (error) {
    if ((error as Error | null)?.name !== 'RedisLocationError') throw error;
    throw new DaylightCliError('invalid-option', `--store ${(error as Error).message}`);
  }
}

/**
 * Opens the store a `--store` value names: a path to the registry file,
 * resolved against `cwd`, or a `redis://` URL.
 * @throws {DaylightCliError} `invalid-option` for a URL scheme that is not supported yet,
 *   or a `redis://` URL with a parameter other than `prefix` or a bad prefix.
 */
export function openStore(location: string, cwd: string, options: OpenStoreOptions = {}): ReleaseStore {
  if (location.trim() === '') {
    throw new DaylightCliError(
      'invalid-option',
      '--store is empty; pass the path of the registry file, such as releases.json',
    );
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(location)?.[1];
  const actor = options.actor ?? 'unknown';
  const storeOptions: StoreOptions = options.onWarning === undefined ? {} : { onWarning: options.onWarning };
  if (scheme === 'redis' || scheme === 'rediss') {
    return new RedisStore(location, path.resolve(cwd, options.releases ?? '.'), actor, storeOptions);
  }
  if (scheme !== undefined) {
    throw new DaylightCliError(
      'invalid-option',
      `--store ${location}: ${scheme}:// stores are not supported; pass the path of a registry file, such as ./releases.json, or a redis:// URL`,
    );
  }
  return new FileStore(path.resolve(cwd, location), actor, storeOptions);
}

/** A store given as a location (resolved against `cwd`) or already opened. */
export function resolveStore(store: string | ReleaseStore, cwd: string | undefined): ReleaseStore {
  return typeof store === 'string' ? openStore(store, cwd ?? process.cwd()) : store;
}

/**
 * Reads a registry that must exist: commands other than `publish` have
 * nothing to work on without one.
 * @throws {DaylightCliError} `registry`
 */
export async function readExisting(store: ReleaseStore): Promise<StoreSnapshot> {
  const snapshot = await store.read();
  if (!snapshot.exists) {
    throw new DaylightCliError(
      'registry',
      `no registry at ${store.location}; publish a release first, or point --store (or DAYLIGHT_STORE) at your releases.json`,
    );
  }
  return snapshot;
}

/** Whether the folder `target` already holds every file of a build, with its hash (never throws). */
async function holdsFiles(target: string, files: readonly BuildFile[]): Promise<boolean> {
  try {
    for (const file of files) {
      const held = await hashFile(path.join(target, 'files', ...file.path.split('/')));
      if (held.integrity !== file.integrity) return false;
    }
    return files.length > 0;
  } catch {
    return false;
  }
}

/** The directory store: `releases.json` and `releases/<version>/` beside it. */
export class FileStore implements ReleaseStore {
  readonly location: string;
  readonly actor: string;
  readonly #onWarning: (message: string) => void;

  constructor(registryFile: string, actor = 'unknown', options: StoreOptions = {}) {
    this.location = path.resolve(registryFile);
    this.actor = actor;
    this.#onWarning = options.onWarning ?? defaultOnWarning;
  }

  async history(limit: number): Promise<AuditEntry[]> {
    // The audit log is found beside the registry file: beside a directory it finds none, and
    // "no changes recorded yet" would hide that --store names the wrong thing.
    const info = await stat(this.location).catch(() => undefined);
    if (info?.isDirectory() === true) throw this.#isDirectory();
    return readAuditFile(this.location, limit);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }

  /** `--store store` for `store/releases.json` is an easy slip: name the file that was meant. */
  #isDirectory(): DaylightCliError {
    return new DaylightCliError(
      'registry',
      `registry ${this.location} is a directory; give the registry file, such as --store ${path.join(this.location, 'releases.json')}`,
    );
  }

  async read(): Promise<StoreSnapshot> {
    let text: string;
    try {
      text = await readFile(this.location, 'utf8');
    } catch (error) {
      const code = errnoCode(error);
      if (code === 'ENOENT') return { registry: emptyRegistry(), exists: false, revision: undefined };
      if (code === 'EISDIR') throw this.#isDirectory();
      throw new DaylightCliError(
        'registry',
        `registry ${this.location} cannot be read (${code ?? String(error)}); check the path and its permissions`,
        { cause: error },
      );
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new DaylightCliError(
        'registry',
        `registry ${this.location} is not valid JSON (${(error as Error).message}); fix the file or restore it from a backup`,
        { cause: error },
      );
    }
    const check = validateRegistry(parsed);
    if (!check.ok) {
      throw new DaylightCliError(
        'registry',
        `registry ${this.location} is invalid: ${check.error}; fix the file or restore it from a backup`,
      );
    }
    return { registry: check.registry, exists: true, revision: text };
  }

  releaseLocation(version: string): string {
    return releaseDir(this.location, version);
  }

  async readManifest(version: string): Promise<ManifestRead> {
    const manifest = await readManifestFile(this.location, version);
    if (manifest === undefined) {
      return {
        ok: false,
        error: `${path.join(releaseDir(this.location, version), 'manifest.json')} is missing or not JSON`,
      };
    }
    const check = validateManifest(manifest, version);
    return check.ok ? check : { ok: false, error: `its manifest is invalid: ${check.errors.join('; ')}` };
  }

  async update(basedOn: StoreSnapshot, change: () => Promise<Registry>, record?: ChangeRecord): Promise<StoreUpdate> {
    const directory = path.dirname(this.location);
    try {
      await mkdir(directory, { recursive: true });
    } catch (error) {
      throw new DaylightCliError(
        'io',
        `cannot create the store directory ${directory} (${errnoCode(error) ?? String(error)})`,
        {
          cause: error,
        },
      );
    }
    const release = await this.#lock();
    try {
      const now = await this.read();
      if (now.revision !== basedOn.revision) {
        throw new DaylightCliError(
          'conflict',
          `registry ${this.location} changed while this command ran (another command wrote it); nothing was changed, run the command again`,
        );
      }
      // Before anything is written (change() may install a release folder): a
      // change that cannot be recorded is refused, not made and then reported as failed.
      const audit = await this.#openAudit();
      try {
        // Every write bumps the revision: servers report it, and tabs ignore answers older than one they acted on.
        const changed = await change();
        // A change that leaves the registry as it was (a repaired release folder) keeps its revision and bytes.
        const same = JSON.stringify(changed) === JSON.stringify(now.registry);
        const revision = (now.registry.revision ?? 0) + (same ? 0 : 1);
        const next = { ...changed, revision };
        try {
          if (!same) await writeRegistryFile(this.location, next);
        } catch (error) {
          throw new DaylightCliError(
            'io',
            `cannot write the registry ${this.location} (${errnoCode(error) ?? String(error)})`,
            { cause: error },
          );
        }
        const summary = record?.summary ?? 'change the registry';
        const entry: AuditEntry = {
          revision,
          at: new Date().toISOString(),
          actor: this.actor,
          action: record?.action ?? 'change',
          summary,
        };
        try {
          await audit.appendFile(`${JSON.stringify(entry)}\n`);
        } catch (error) {
          // The registry is written: the change stands, and the user is told what is missing.
          const warning = `${this.location} changed (revision ${revision}); the audit entry could not be written: appending to ${auditFileOf(this.location)} failed (${errnoCode(error) ?? String(error)}), so "daylight history" will not list "${summary}"; free disk space or fix that file so later changes are recorded`;
          this.#onWarning(warning);
          return { revision, warning };
        }
        return { revision };
      } finally {
        await audit.close().catch(() => undefined);
      }
    } finally {
      await release();
    }
  }

  /** Opens the audit log for appending, creating it. @throws {DaylightCliError} `io` when it cannot be written. */
  async #openAudit(): Promise<FileHandle> {
    const file = auditFileOf(this.location);
    try {
      return await open(file, 'a', 0o644);
    } catch (error) {
      const code = errnoCode(error) ?? String(error);
      const fix =
        code === 'EACCES' || code === 'EPERM'
          ? `Make it writable by the user running daylight (after a run with sudo it may belong to root: sudo chown "$USER" ${file})`
          : 'Make it a file daylight can append to';
      throw new DaylightCliError(
        'io',
        `the audit log ${file} cannot be written (${code}), so the change could not be recorded; nothing was changed. ${fix}, then run the command again`,
        { cause: error },
      );
    }
  }

  async installRelease(version: string, files: readonly BuildFile[], manifest: ReleaseManifest): Promise<string> {
    const target = releaseDir(this.location, version);
    const parent = path.dirname(target);
    const suffix = randomBytes(6).toString('hex');
    const temporary = path.join(parent, `.${version}.${suffix}.tmp`);
    const leftover = path.join(parent, `.${version}.${suffix}.old`);
    const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
    try {
      // The folder holds these very files already — servers may be serving them (the registry was rebuilt after
      // Redis lost its keys, and publish comes before promote): only its manifest is written again, by a rename,
      // so that no request for one of its files finds the folder gone, as it would for a moment below.
      if (await holdsFiles(target, files)) {
        await writeFileAtomically(path.join(target, 'manifest.json'), manifestText);
        return target;
      }
      await mkdir(parent, { recursive: true });
      await mkdir(path.join(temporary, 'files'), { recursive: true });
      for (const file of files) {
        const destination = path.join(temporary, 'files', ...file.path.split('/'));
        await mkdir(path.dirname(destination), { recursive: true });
        await copyFile(file.source, destination);
        // The manifest promises these bytes: check the copy, not the source, so
        // a build still being written cannot slip other bytes under the hash.
        const copied = await hashFile(destination);
        if (copied.integrity !== file.integrity) {
          throw new DaylightCliError(
            'build',
            `build file ${file.path} changed while it was being published; wait for the build to finish and publish again`,
          );
        }
      }
      await writeFile(path.join(temporary, 'manifest.json'), manifestText);
      try {
        await rename(temporary, target);
      } catch (error) {
        const code = errnoCode(error);
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'EISDIR' && code !== 'ENOTDIR') throw error;
        // A folder the registry does not name: left by an interrupted publish. Move it aside, then replace it.
        await rename(target, leftover);
        await rename(temporary, target);
        await rm(leftover, { recursive: true, force: true });
      }
      return target;
    } catch (error) {
      await rm(temporary, { recursive: true, force: true }).catch(() => undefined);
      if (error instanceof DaylightCliError) throw error;
      throw new DaylightCliError(
        'io',
        `cannot write the release folder ${target} (${errnoCode(error) ?? String(error)})`,
        {
          cause: error,
        },
      );
    }
  }

  /**
   * Takes `<registry>.lock`, created exclusively. A lock left by a process of
   * this host that no longer runs is taken over; any other is a conflict,
   * because only a person can tell whether its owner is still writing.
   */
  /** Takes the store's lock (see below): for writers that share its release folders, the Redis store's publishes. */
  async lock(): Promise<() => Promise<void>> {
    await mkdir(path.dirname(this.location), { recursive: true });
    return this.#lock();
  }

  async #lock(): Promise<() => Promise<void>> {
    try {
      return await lockRegistryFile(this.location);
    } catch (error) {
      if (error instanceof RegistryLockedError) {
        const { holder, lockFile } = error;
        const who = holder === undefined ? '' : ` (process ${holder.pid} on ${holder.host}, since ${holder.since})`;
        throw new DaylightCliError(
          'conflict',
          `another daylight command is changing the store${who}; wait for it to finish, or delete ${lockFile} if none is running`,
        );
      }
      throw new DaylightCliError(
        'io',
        `cannot create the lock ${this.location}.lock (${errnoCode(error) ?? String(error)})`,
        { cause: error },
      );
    }
  }
}

/**
 * The Redis store: the registry and its audit log in Redis (one atomic
 * transaction per change, see @daylight/server-middleware's RedisRegistry),
 * the release folders on disk below `releasesDir`, where every server reads them.
 */
export class RedisStore implements ReleaseStore {
  readonly location: string;
  readonly #registry: RedisRegistry;
  /** The release folder's lock, while a change that installs one is under way. */
  #folderLock: (() => Promise<void>) | undefined;
  /** The files a FileStore would use, for the release folders: `<releasesDir>/releases.json` is never written. */
  readonly #files: FileStore;
  readonly #actor: string;
  readonly #onWarning: (message: string) => void;

  /** @throws {DaylightCliError} `invalid-option` for a URL that {@link parseRedisStoreLocation} refuses. */
  constructor(url: string, releasesDir: string, actor: string, options: StoreOptions = {}) {
    const { url: connect, prefix } = parseRedisStoreLocation(url);
    this.#registry = new RedisRegistry({ url: connect, mode: 'client', prefix });
    this.location = this.#registry.location;
    this.#files = new FileStore(path.join(releasesDir, 'releases.json'), actor);
    this.#actor = actor;
    this.#onWarning = options.onWarning ?? defaultOnWarning;
  }

  async #connected<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof DaylightCliError) throw error;
      if (error instanceof RegistryConflictError) {
        throw new DaylightCliError('conflict', `${error.message}; nothing was changed, run the command again`);
      }
      const { name, message } = error as Error;
      // Refused by the registry before it wrote anything (its message says what to fix), by name across package copies.
      if (name === 'RegistryRefusedError') {
        throw new DaylightCliError('registry', message, { cause: error });
      }
      // Redis has not the URL's database: nothing was read or written, and the message says what to fix.
      if (name === 'RedisDatabaseError') {
        throw new DaylightCliError('io', `${message}; nothing was changed`, { cause: error });
      }
      // Redis answered, with an error (OOM, NOAUTH, NOPERM…): reached, but it refused.
      if (name === 'ReplyError') {
        throw new DaylightCliError(
          'io',
          `the Redis store ${this.location} refused the command (${message}); nothing was changed`,
          { cause: error },
        );
      }
      // A change's commands found Redis gone: said as for a read, unless the commit itself went unanswered.
      const unreachable = name === 'RedisUnreachableError' ? (error as RedisUnreachableError) : undefined;
      if (unreachable?.unchanged === false) throw new DaylightCliError('io', message, { cause: error });
      throw new DaylightCliError(
        'io',
        `the Redis store ${this.location} cannot be reached (${unreachable?.reason ?? message}); check the URL and that Redis runs; nothing was changed`,
        { cause: error },
      );
    }
  }

  read(): Promise<StoreSnapshot> {
    return this.#connected(async () => {
      const read = await this.#registry.read();
      if (!read.ok) {
        if ('missing' in read) return { registry: emptyRegistry(), exists: false, revision: undefined };
        throw new DaylightCliError('registry', `registry in ${this.location} is invalid: ${read.error}`);
      }
      return { registry: read.registry, exists: true, revision: String(read.registry.revision ?? 0) };
    });
  }

  releaseLocation(version: string): string {
    return this.#files.releaseLocation(version);
  }

  readManifest(version: string): Promise<ManifestRead> {
    return this.#files.readManifest(version);
  }

  /**
   * Release folders are shared by every command of the fleet, and Redis's
   * transaction guards only the registry: two publishes of one version could
   * each install their folder, one commit, and the other's files stay under
   * the winner's digest. So a change that installs takes the release folder's
   * lock (as the file store does for every change) and holds it until the
   * change is committed or refused; a second publish meanwhile is refused.
   */
  async installRelease(...args: Parameters<ReleaseStore['installRelease']>): Promise<string> {
    this.#folderLock ??= await this.#files.lock();
    return this.#files.installRelease(...args);
  }

  update(basedOn: StoreSnapshot, change: () => Promise<Registry>, record?: ChangeRecord): Promise<StoreUpdate> {
    const expected = basedOn.revision === undefined ? null : Number(basedOn.revision);
    return this.#connected(async () => {
      try {
        const result = await this.#registry.update(
          async () => ({ registry: await change(), changed: true, summary: record?.summary ?? 'change the registry' }),
          { actor: this.#actor, action: record?.action ?? 'change' },
          expected,
        );
        if (result.warning === undefined) return { revision: result.revision };
        // The registry is written: the change stands, and the user is told what is missing.
        const warning = `${this.location} ${result.warning}`;
        this.#onWarning(warning);
        return { revision: result.revision, warning };
      } finally {
        const release = this.#folderLock;
        this.#folderLock = undefined;
        await release?.();
      }
    });
  }

  history(limit: number): Promise<AuditEntry[]> {
    return this.#connected(() => this.#registry.history(limit));
  }

  close(): Promise<void> {
    return this.#registry.close();
  }
}
