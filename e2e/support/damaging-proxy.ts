/**
 * A proxy that damages one file on its way, once, as a flaky middlebox or a
 * cache holding a damaged copy would: it forwards everything to the real
 * server, but flips a byte of the first answer to a request whose path
 * matches, keeping the server's headers (`immutable` included, so the browser
 * keeps the damaged copy in its HTTP cache). Later requests for it pass on
 * untouched.
 */
import { createServer, request as forward } from 'node:http';
import type { AddressInfo } from 'node:net';
import { passOn } from './two-servers.js';

export interface DamagingProxy {
  readonly url: string;
  /** Each request for a matching path, as the `Cache-Control` it was sent with (`-` for none). */
  readonly asked: string[];
  close(): Promise<void>;
}

export async function startDamagingProxy(target: string, damage: RegExp): Promise<DamagingProxy> {
  const upstream = new URL(target);
  const asked: string[] = [];
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || !damage.test(req.url ?? '')) return passOn(req, res, target);
    asked.push(req.headers['cache-control'] ?? '-');
    if (asked.length > 1) return passOn(req, res, target);
    // Asked without compression, so that the byte flipped is one of the file's own.
    const headers = { ...req.headers, 'accept-encoding': 'identity' };
    const outgoing = forward({ host: upstream.hostname, port: upstream.port, path: req.url, headers }, (answer) => {
      const chunks: Buffer[] = [];
      answer.on('data', (chunk: Buffer) => chunks.push(chunk));
      answer.on('end', () => {
        const body = Buffer.concat(chunks);
        body[100] = body[100]! ^ 0xff;
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        res.end(body);
      });
    });
    outgoing.on('error', () => res.destroy());
    outgoing.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    asked,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
