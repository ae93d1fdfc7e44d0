/**
 * Loaded once per workflow thread and shared by every workflow it runs (the bundle's `preloadModules`, see
 * worker/worker.ts). The SDK evaluates every other module of the bundle again for each workflow: zod alone was
 * most of each workflow's first task and left megabytes of garbage in the workflow thread per workflow
 * (bench/RESULTS.md).
 *
 * zod keeps no per-workflow state: the plan's schemas are built by our modules, which are still evaluated for
 * each workflow. But the SDK deep-freezes what it shares, and zod sets some module-level values on first use
 * (its default locale and memoizer in its global config, whether `new Function` is allowed): `warmUp` builds,
 * parses and rejects a throwaway schema here, before the freeze, so that no workflow is the first.
 */
import * as z from 'zod';

function warmUp(): number {
  const schema = z
    .object({
      name: z.string().min(1).describe('a name'),
      count: z.number().int().positive().default(1),
      kind: z.enum(['a', 'b']),
      tags: z.array(z.string()).optional(),
      when: z.union([z.string().regex(/^\d+s$/), z.number()]),
      nested: z.record(z.string(), z.object({ on: z.boolean() })).optional(),
    })
    .strict()
    .refine((value) => value.count < 10, { message: 'too many' });
  schema.parse({ name: 'x', kind: 'a', when: '5s', nested: { n: { on: true } } });
  const rejected = schema.safeParse({ name: '', count: -1, kind: 'c', when: true, extra: 1 });
  return (rejected.error?.issues.length ?? 0) + Number(z.core.util.allowsEval.value);
}

export const sharedZod = { z, warmedUp: warmUp() };
