export interface TestRedis {
  readonly url: string;
  readonly port: number;
  readonly pid: number;
  /** Stops it (SIGTERM to its PID) and waits for it to exit. */
  stop(): Promise<void>;
  /** Stops it and starts another on the same port (and dir). */
  restart(): Promise<TestRedis>;
}

export function findRedisServer(): string | undefined;
export function freePort(): Promise<number>;
export function startRedis(options?: { port?: number; dir?: string }): Promise<TestRedis>;
