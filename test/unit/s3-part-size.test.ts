/** How the S3 store sizes multipart parts: every body up to 1 TiB fits in S3's 10,000 parts, memory stays bounded by configuration. */
import { partsCapacity } from '../../src/stores/partUpload';
import { DEFAULT_PART_SIZE, S3Store, unknownSizePartSize } from '../../src/stores/s3';
import { planSchema } from '../../src/plan/schema';

const MiB = 1024 * 1024;
const TiB = 1024 ** 4;
const credentials = { accessKeyId: 'unused', secretAccessKey: 'unused-secret' };
const base = { type: 's3' as const, bucket: 'backups', prefix: '', endpoint: 'http://127.0.0.1:9' };

describe('S3 part size', () => {

  test('a body of unknown size gets parts that start at 8 MiB and grow to hold 1 TiB in 10,000 parts', () => {
    const store = new S3Store(base, { credentials });
    expect(store.partSizeFor(undefined)).toBe(unknownSizePartSize);
    const sizes = Array.from({ length: 10_000 }, (_, i) => unknownSizePartSize(i + 1));
    // 8 MiB for the first 500 parts (about 4 GB: a few GB go out of 24 MiB of buffers), doubling every 500 up to 128 MiB.
    expect([1, 500, 501, 1000, 1001, 1500, 1501, 2000, 2001, 10_000].map((part) => sizes[part - 1] / MiB)).toEqual([8, 8, 16, 16, 32, 32, 64, 64, 128, 128]);
    expect(sizes.every((size, i) => size % MiB === 0 && size >= 5 * MiB && (i === 0 || size >= sizes[i - 1]))).toBe(true);
    expect(partsCapacity(unknownSizePartSize, 10_000)).toBeGreaterThanOrEqual(TiB);
    store.destroy();
  });

  test('an estimated size gets parts for 9,000 of them (room for an estimate short of the truth), never below 8 MiB', () => {
    const store = new S3Store(base, { credentials });
    expect(DEFAULT_PART_SIZE).toBe(8 * MiB);
    expect(store.partSizeFor(200 * MiB)).toBe(DEFAULT_PART_SIZE);
    // 9,000 parts of 8 MiB hold about 70 GiB; a larger database gets larger parts.
    expect(store.partSizeFor(70 * 1024 * MiB)).toBe(8 * MiB);
    expect(store.partSizeFor(100 * 1024 * MiB)).toBe(12 * MiB);
    expect(store.partSizeFor(0)).toBe(unknownSizePartSize);
    const fiveTiB = 5 * TiB;
    const part = store.partSizeFor(fiveTiB) as number;
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
