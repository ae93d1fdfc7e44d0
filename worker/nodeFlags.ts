/**
 * The Node flags every launcher we ship runs Lifeboat with (`npm start`, `npm run lifeboat`, the image's
 * ENTRYPOINT, the tests' and the benchmark's workers); test/unit/node-flags.test.ts keeps them in step.
 *
 * Why a young generation of 2 MiB semi-spaces instead of V8's 16: the worker streams through short-lived
 * buffers, and V8 grows each of its two isolates' young generation (main and workflow thread) to its maximum,
 * then keeps it resident. The smaller one took the worker's peak during a 1 GB backup from about 300 to
 * 255 MiB, for a few more scavenges (15 ms per backup); see bench/RESULTS.md.
 */
export const NODE_FLAGS = ['--max-semi-space-size=2'] as const;
