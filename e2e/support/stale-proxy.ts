/**
 * A caching proxy that misbehaves like a CDN ignoring `Cache-Control:
 * no-cache` on the HTML shell: it forwards everything to the real server, but
 * answers every page navigation with the first HTML it ever saw.
 */
import { createServer, request as forward, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface StaleShellProxy {
  readonly url: string;
  /** How many navigations got the stale copy instead of the server's answer. */
  readonly staleShellsServed: number;
  close(): Promise<void>;
}

export async function startStaleShellProxy(target: string): Promise<StaleShellProxy> {
  const upstream = new URL(target);
  let shell: { headers: IncomingHttpHeaders; body: Buffer } | undefined;
  let staleShellsServed = 0;
  const server = createServer((req, res) => {
    const navigation = req.method === 'GET' && (req.headers.accept ?? '').includes('text/html');
    if (navigation && shell) {
      staleShellsServed++;
      res.writeHead(200, shell.headers);
      res.end(shell.body);
      return;
    }
    const outgoing = forward(
      { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        const html = (answer.headers['content-type'] ?? '').startsWith('text/html');
        if (navigation && html && answer.statusCode === 200) {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => {
            shell = { headers: answer.headers, body: Buffer.concat(chunks) };
            res.writeHead(200, answer.headers);
            res.end(shell.body);
          });
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    outgoing.on('error', () => {
      res.writeHead(502);
      res.end();
    });
    req.pipe(outgoing);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    get staleShellsServed() {
      return staleShellsServed;
    },
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
