import { ListObjectsV2Command, PutObjectCommand, GetObjectCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { Connection } from '@temporalio/client';
import { Client } from 'pg';
import { createDatabase, runPgbenchInit, s3Client, tableRowCounts, testEnv, uniqueName } from '../harness/env';

// Proves the parts globalSetup started are the real programs, reachable with the published settings.
describe('integration harness', () => {
  const env = testEnv();

  it('Temporal dev server answers GetSystemInfo', async () => {
    const connection = await Connection.connect({ address: env.temporalAddress });
    try {
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toMatch(/^\d+\.\d+/);
      const namespace = await connection.workflowService.describeNamespace({ namespace: 'default' });
      expect(namespace.namespaceInfo?.name).toBe('default');
    } finally {
      await connection.close();
    }
  });

  it('PostgreSQL answers with the password and rejects a wrong one', async () => {
    const client = new Client({ connectionString: env.pgUrl });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: string }>('select version()');
      expect(rows[0].version).toMatch(/^PostgreSQL \d+/);
    } finally {
      await client.end();
    }

    const wrong = new URL(env.pgUrl);
    wrong.password = 'not-the-password';
    const intruder = new Client({ connectionString: wrong.toString() });
    await expect(intruder.connect()).rejects.toThrow(/password authentication failed/);
    await intruder.end().catch(() => undefined);
  });

  it('PostgreSQL helpers create a database and count pgbench rows exactly', async () => {
    const url = await createDatabase(uniqueName('harness'));
    await runPgbenchInit(url, 1);
    const counts = await tableRowCounts(url);
    expect(counts).toEqual({
      'public.pgbench_accounts': 100_000,
      'public.pgbench_branches': 1,
      'public.pgbench_history': 0,
      'public.pgbench_tellers': 10,
    });
  });

  it('MinIO serves the test bucket', async () => {
    const s3 = s3Client();
    try {
      await s3.send(new HeadBucketCommand({ Bucket: env.s3Bucket }));
      const key = `${uniqueName('harness')}/hello.txt`;
      await s3.send(new PutObjectCommand({ Bucket: env.s3Bucket, Key: key, Body: 'hello lifeboat' }));
      const listed = await s3.send(new ListObjectsV2Command({ Bucket: env.s3Bucket, Prefix: key }));
      expect(listed.Contents?.map((object) => object.Key)).toEqual([key]);
      const got = await s3.send(new GetObjectCommand({ Bucket: env.s3Bucket, Key: key }));
      expect(await got.Body?.transformToString()).toBe('hello lifeboat');
    } finally {
      s3.destroy();
    }
  });
});
