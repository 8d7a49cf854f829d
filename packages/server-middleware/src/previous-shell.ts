/**
 * Which release's shell a navigation gets. Normally the release resolved for
 * the request. A switch or a rollback navigates with `?_daylight=<v>`; that
 * version's shell is served instead only when it is published and is either
 * the resolved release or OLDER than it and not below the floor. The boot
 * watchdog uses this to take a tab back to the release it came from.
 *
 * It cannot be used to opt into a pilot release: a pilot is newer than what a
 * request outside the pilot resolves to, and newer versions are never served
 * from the parameter — only the server's own resolution can hand one out.
 */
import { compareVersions, isVersion, type ReleaseStamp } from '@daylight/protocol';
import type { IncomingMessage } from 'node:http';

export const SWITCH_PARAM = '_daylight';

/** The `_daylight` parameter of the request target, when it names a version. */
export function askedVersion(incoming: IncomingMessage | undefined): string | undefined {
  const url = incoming?.url;
  const query = url === undefined ? -1 : url.indexOf('?');
  if (url === undefined || query === -1) return undefined;
  const value = new URLSearchParams(url.slice(query + 1)).get(SWITCH_PARAM);
  return isVersion(value) ? value : undefined;
}

/** The version whose shell to serve: `asked` when allowed (see above), else the resolved one. */
export function shellVersion(
  resolved: ReleaseStamp,
  asked: string | undefined,
  published: (version: string) => boolean,
): string {
  if (asked === undefined || asked === resolved.version || !published(asked)) return resolved.version;
  if (compareVersions(asked, resolved.version) > 0) return resolved.version;
  if (resolved.min !== undefined && compareVersions(asked, resolved.min) < 0) return resolved.version;
  return asked;
}
