/** Engines called in the test process, without an activity around them. */
import { formatSetId } from '../../src/catalog/manifest';
import type { DumpContext } from '../../src/engines/types';
import type { Plan } from '../../src/plan/schema';
import { createStore } from '../../src/stores';

/** What a dump is given in the activity: a new set of `plan`, in its store, with no earlier sets and no sidecars. */
export function inProcessDumpContext(plan: Plan, setStartedAt = new Date()): DumpContext {
  return {
    plan,
    setId: formatSetId(setStartedAt, 'abcdef'),
    setStartedAt,
    store: createStore(plan.store),
    completeSets: async () => [],
    putSidecar: async () => {
      throw new Error('this test stores no sidecars');
    },
  };
}
