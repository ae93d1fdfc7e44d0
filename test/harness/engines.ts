/** Engines called in the test process, without an activity around them. */
import { formatSetId } from '../../src/catalog/manifest';
import { compressionFor } from '../../src/engines';
import type { DumpContext } from '../../src/engines/types';
import type { Component, Plan } from '../../src/plan/schema';
import { createStore } from '../../src/stores';

/**
 * What a dump of `component` is given in the activity: a new set of `plan`, in its store, with the component's
 * compression resolved as the activity resolves it, no earlier sets and no sidecars.
 */
export function inProcessDumpContext(plan: Plan, component: Component, setStartedAt = new Date()): DumpContext {
  return {
    plan,
    setId: formatSetId(setStartedAt, 'abcdef'),
    setStartedAt,
    store: createStore(plan.store),
    compression: compressionFor(component),
    completeSets: async () => [],
    putSidecar: async () => {
      throw new Error('this test stores no sidecars');
    },
  };
}
