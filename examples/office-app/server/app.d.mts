import type { IncomingMessage, Server } from 'node:http';
import type { DaylightServer, ReportsOptions } from '@daylight/server-middleware';

export interface OfficeServerOptions {
  /** @default 'express' */
  framework?: 'express' | 'koa';
  /** The registry file of the release store. */
  store: string;
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  logger?: { info(msg: string): void; warn(msg: string): void; error(msg: string, err?: unknown): void };
  /** Passed to the middleware: size and rate limits of `POST /_daylight/reports`, automatic halts. */
  reports?: ReportsOptions;
  /** Called with every request before the app sees it (the tests count requests with it). */
  onRequest?: (req: IncomingMessage) => void;
  /** Logins, shared by servers given the same ones. @default a fresh createSessions() */
  sessions?: OfficeSessions;
  /** Opens the status page (`/_daylight/admin/`) to requests with `Authorization: Bearer <adminToken>`. @default admin off */
  adminToken?: string;
  /** Also opens the status page to these users once signed in (the demo uses `ops@hq`). @default [] */
  admins?: readonly string[];
  /** The middleware's base path (the page then needs `?base=<it>`). @default '/_daylight' */
  basePath?: string;
  /** Read the registry from Redis (`redis://host:port/db`); release folders stay beside `store`. @default the file store */
  redis?: string;
}

/** The app's in-memory logins; the signed-in person's office is Daylight's cohort. */
export interface OfficeSessions {
  open(user: string, office: string): string;
  user(cookieHeader: string | undefined): string | undefined;
  office(cookieHeader: string | undefined): string | undefined;
}

export function createSessions(): OfficeSessions;

export interface OfficeServer {
  readonly url: string;
  readonly daylight: DaylightServer;
  readonly server: Server;
  close(): Promise<void>;
}

export function startOfficeServer(options: OfficeServerOptions): Promise<OfficeServer>;
