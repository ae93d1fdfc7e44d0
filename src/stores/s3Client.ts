/** One way to build an S3 client for every S3-compatible endpoint Lifeboat talks to (stores and s3-versioned components). */
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';

export interface S3Endpoint {
  /** S3-compatible endpoint (MinIO, Ceph, R2...); omit for AWS. */
  endpoint?: string;
  region?: string;
  forcePathStyle?: boolean;
}

export interface S3ClientOptions {
  /** By default the standard AWS chain (environment, profile, web identity, instance role). */
  credentials?: S3ClientConfig['credentials'];
  /** Attempts per S3 request, SDK retries included (default 3). */
  maxAttempts?: number;
}

/** The client, and a name for the endpoint that messages can show (no credentials). */
export function createS3Client(config: S3Endpoint, options: S3ClientOptions = {}): { client: S3Client; endpointName: string } {
  const region = config.region ?? process.env.AWS_REGION ?? 'us-east-1';
  const client = new S3Client({
    region,
    endpoint: config.endpoint,
    // Most S3-compatible servers (MinIO, Ceph) serve path-style only unless configured with a domain.
    forcePathStyle: config.forcePathStyle ?? config.endpoint !== undefined,
    credentials: options.credentials,
    maxAttempts: options.maxAttempts,
    // The SDK's default CRC32 checksums are rejected by many S3-compatible stores; send them only when required.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    // Without it an unroutable endpoint hangs; no request timeout, since a slow reader may idle a get for long.
    requestHandler: { connectionTimeout: 10_000 },
  });
  return { client, endpointName: config.endpoint ?? `AWS S3 (${region})` };
}
