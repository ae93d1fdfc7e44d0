/**
 * The worker's /metrics endpoint: Lifeboat's own metrics (src/metrics) followed by the Temporal SDK's,
 * which the SDK's core serves on an internal loopback port that this endpoint reads and passes on.
 */
import { createServer, type Server } from 'node:http';
import { Runtime } from '@temporalio/worker';
import { freePort } from '../src/embedded/ports';
import { registry } from '../src/metrics';

let sdkMetricsUrl: string | undefined;

/**
 * Installs the Temporal runtime with its Prometheus exporter on a free loopback port. Must run before the
 * first worker connection is made (the runtime is created once per process).
 */
export async function installSdkMetrics(): Promise<void> {
  if (sdkMetricsUrl) return;
  const port = await freePort();
  Runtime.install({ telemetryOptions: { metrics: { prometheus: { bindAddress: `127.0.0.1:${port}`, countersTotalSuffix: true } } } });
  sdkMetricsUrl = `http://127.0.0.1:${port}/metrics`;
}

async function sdkMetrics(): Promise<string> {
  if (!sdkMetricsUrl) return '';
  try {
    const response = await fetch(sdkMetricsUrl, { signal: AbortSignal.timeout(2_000) });
    return response.ok ? await response.text() : '';
  } catch {
    return ''; // the SDK's exporter is best effort; Lifeboat's own metrics still answer
  }
}

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

export async function startMetricsServer(port: number, host = '0.0.0.0'): Promise<MetricsServer> {
  const server: Server = createServer((request, response) => {
    if (request.url !== '/metrics') {
      response.writeHead(404).end('try /metrics\n');
      return;
    }
    Promise.all([registry.metrics(), sdkMetrics()]).then(
      ([own, sdk]) => response.writeHead(200, { 'Content-Type': registry.contentType }).end(`${own}\n${sdk}`),
      (error: Error) => response.writeHead(500).end(`${error.message}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address();
  const boundPort = typeof address === 'object' && address ? address.port : port;
  return {
    url: `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${boundPort}/metrics`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
