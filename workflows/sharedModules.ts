/**
 * Loaded once per workflow thread and shared by every workflow it runs (the bundle's `preloadModules`, see
 * worker/worker.ts). The SDK evaluates every other module of the bundle again for each workflow: zod alone was
 * most of each workflow's first task and left megabytes of garbage in the workflow thread per workflow
 * (bench/RESULTS.md).
 *
 * zod keeps no per-workflow state: the plan's schemas are built by our modules, which are still evaluated for
 * each workflow. But the SDK deep-freezes what it shares, and zod sets three module-level values on first use:
 * its default locale and its memoizer (in its global config, on the first schema built) and whether
 * `new Function` is allowed (on the first object parsed). A throwaway schema is built, parsed and rejected here,
 * before the freeze, so that no workflow is the first.
 */
import * as z from 'zod';

const throwaway = z.object({ name: z.string().min(1), count: z.number().int().default(1) }).strict();
throwaway.parse({ name: 'x' });
throwaway.safeParse({ name: '', extra: 1 });
void z.core.util.allowsEval.value; // read so that zod caches it now
