/** How the S3 store sizes multipart parts: every body up to 1 TiB fits in S3's 10,000 parts, memory stays bounded by configuration. */
import { DEFAULT_PART_SIZE, S3Store, UNKNOWN_SIZE_PART_SIZE } from '../../src/stores/s3';
import { planSchema } from '../../src/plan/schema';

const MiB = 1024 * 1024;
const TiB = 1024 ** 4;
const credentials = { accessKeyId: 'unused', secretAccessKey: 'unused-secret' };
const base = { type: 's3' as const, bucket: 'backups', prefix: '', endpoint: 'http://127.0.0.1:9' };

describe('S3 part size', () => {

  test('a body of unknown size gets parts large enough for 1 TiB in 10,000 parts', () => {
    const store = new S3Store(base, { credentials });
    expect(store.partSizeFor(undefined)).toBe(UNKNOWN_SIZE_PART_SIZE);
    expect(UNKNOWN_SIZE_PART_SIZE * 10_000).toBeGreaterThanOrEqual(TiB);
    expect(UNKNOWN_SIZE_PART_SIZE % MiB).toBe(0);
    expect(UNKNOWN_SIZE_PART_SIZE).toBe(105 * MiB);
    store.destroy();
  });

  test('an estimated size gets parts for 9,000 of them (room for an estimate short of the truth), never below 8 MiB', () => {
    const store = new S3Store(base, { credentials });
    expect(DEFAULT_PART_SIZE).toBe(8 * MiB);
    expect(store.partSizeFor(200 * MiB)).toBe(DEFAULT_PART_SIZE);
    // 9,000 parts of 8 MiB hold about 70 GiB; a larger database gets larger parts.
    expect(store.partSizeFor(70 * 1024 * MiB)).toBe(8 * MiB);
    expect(store.partSizeFor(100 * 1024 * MiB)).toBe(12 * MiB);
    expect(store.partSizeFor(0)).toBe(UNKNOWN_SIZE_PART_SIZE);
    const fiveTiB = 5 * TiB;
    const part = store.partSizeFor(fiveTiB);
    expect(part * 9_000).toBeGreaterThanOrEqual(fiveTiB);
    expect(part * 10_000).toBeGreaterThanOrEqual(fiveTiB * 1.1);
    store.destroy();
  });

  test('a configured partSizeMiB is the part size for unknown sizes and the floor for estimated ones', () => {
    const store = new S3Store({ ...base, partSizeMiB: 8, uploadQueueSize: 1 }, { credentials });
    expect(store.partSizeFor(undefined)).toBe(8 * MiB);
    expect(store.partSizeFor(10 * MiB)).toBe(8 * MiB); // a configured part size is the floor for estimated sizes too
    store.destroy();
  });

  test('the plan refuses part sizes S3 cannot take', () => {
    const plan = (store: Record<string, unknown>) =>
      planSchema.safeParse({ name: 'p', store: { ...base, ...store }, components: [{ name: 'a', type: 'postgres', connection: { urlFromEnv: 'A_URL' } }] });
    expect(plan({ partSizeMiB: 64, uploadQueueSize: 4 }).success).toBe(true);
    const tooSmall = plan({ partSizeMiB: 4 });
    expect(tooSmall.success).toBe(false);
    expect(JSON.stringify(tooSmall.error?.issues)).toContain('partSizeMiB');
    expect(plan({ uploadQueueSize: 0 }).success).toBe(false);
  });
});
