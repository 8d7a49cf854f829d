import type { DaylightServer } from '@daylight/server-middleware';

export interface ViteAppServerOptions {
  /** @default 'express' */
  framework?: 'express' | 'koa';
  /** The registry file of the release store. */
  store: string;
  /** @default 0 (any free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  logger?: { info(msg: string): void; warn(msg: string): void; error(msg: string, err?: unknown): void };
}

export interface ViteAppServer {
  readonly url: string;
  readonly daylight: DaylightServer;
  close(): Promise<void>;
}

export function startViteAppServer(options: ViteAppServerOptions): Promise<ViteAppServer>;
