/**
 * The Node flags and environment every launcher we ship runs Lifeboat with (`npm start`, `npm run lifeboat`,
 * the image's ENTRYPOINT and ENV, the tests' and the benchmark's workers); test/unit/node-flags.test.ts keeps
 * them in step.
 *
 * Why a young generation of 1 MiB semi-spaces (V8's smallest) instead of V8's 16:
 * - Memory: V8 grows each of the worker's two isolates' young generation (main and workflow thread) to its
 *   maximum, then keeps it resident. 2 MiB took the worker's peak during a 1 GB backup from about 300 to 255 MiB.
 * - CPU: every chunk read from zstd is a new 64 KiB buffer, dead once copied into a part buffer but freed only
 *   by the next scavenge, and V8 weighs that external memory against the old generation's limit. With 2 MiB
 *   semi-spaces tens of MiB piled up between scavenges, and V8 ran a full mark-compact every third of a second
 *   of a backup (about ten per 0.5 GB), on the main thread and its four helper threads, to free them. 1 MiB
 *   scavenges twice as often: three to six mark-compacts, the worker's CPU per backup down by a third,
 *   its peak down 10-20 MiB (bench/RESULTS.md).
 */
export const NODE_FLAGS = ['--max-semi-space-size=1'] as const;

/**
 * Two glibc malloc settings, each unless the user set it:
 *
 * - At most two arenas (`MALLOC_ARENA_MAX`): glibc gives each thread that allocates its own arena (up to 8
 *   per core), and the worker has many such threads (the Temporal core's runtime, the workflow thread,
 *   libuv's pool). Each arena keeps what was freed in it, part buffers included. Two arenas took the worker
 *   from 180 to 160 MiB at rest after backups and its 1 GB backup peak down by about 20 MiB.
 * - A fixed mmap threshold of 1 MiB (`MALLOC_MMAP_THRESHOLD_`): glibc otherwise raises its threshold to the
 *   size of each large block freed, so after the first upload the 8 MiB part buffers come from the heap,
 *   and what the heap frees stays resident. With the threshold fixed, every block of 1 MiB or more is its
 *   own mapping, returned to the system when freed. It took the worker from 179-194 to 153-173 MiB at rest
 *   after eight 300 MB backups, and their peaks from 217-229 to 206-218 MiB, at the same speed.
 *
 * Both measured side by side in bench/RESULTS.md.
 */
export const NODE_ENVIRONMENT = { MALLOC_ARENA_MAX: '2', MALLOC_MMAP_THRESHOLD_: '1048576' } as const;
