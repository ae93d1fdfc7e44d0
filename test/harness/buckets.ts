import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';

/** Creates a plain bucket on a throwaway MinIO (the test stack's and the benchmark's); tests that need versioning or object lock create their own, since lock is set at creation. */
export async function createBucket(endpoint: string, accessKey: string, secretKey: string, bucket: string): Promise<void> {
  const s3 = new S3Client({
    endpoint,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials: { accessKeyId: accessKey, secretAccessKey: secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    s3.destroy();
  }
}
