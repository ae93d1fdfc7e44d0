import { createServer } from 'node:net';

// Ports handed out recently by this process: listen(0) can hand the same port back once it is released,
// and parts started in parallel would then race for it.
const recentlyIssued = new Set<number>();

function listenOnAnyPort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host, port: 0, exclusive: true }, () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => (port > 0 ? resolve(port) : reject(new Error(`could not read the port bound on ${host}`))));
    });
  });
}

/** A TCP port that was free on `host` (127.0.0.1 by default) a moment ago. */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt += 1) {
    const port = await listenOnAnyPort(host);
    if (!recentlyIssued.has(port)) {
      recentlyIssued.add(port);
      return port;
    }
  }
  throw new Error(`no free port found on ${host} after 20 attempts`);
}

/** Throws when something already listens on host:port: a readiness probe would otherwise talk to it. */
export async function assertPortFree(port: number, host = '127.0.0.1', what = 'a server'): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(new Error(`cannot start ${what} on ${host}:${port}: ${error.code === 'EADDRINUSE' ? 'the port is already in use' : error.message}`, { cause: error })),
    );
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}
