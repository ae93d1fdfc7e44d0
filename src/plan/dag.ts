/** The ordering DAG that components' `after` lists form. Pure: workflows import it. */

export interface OrderedNode {
  name: string;
  after: readonly string[];
}

/** The first dependency cycle found, as a closed path (["a", "b", "a"]), or undefined when there is none. */
export function findCycle(nodes: readonly OrderedNode[]): string[] | undefined {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const state = new Map<string, 'visiting' | 'done'>();
  const path: string[] = [];

  const visit = (name: string): string[] | undefined => {
    if (state.get(name) === 'done') return undefined;
    if (state.get(name) === 'visiting') return [...path.slice(path.indexOf(name)), name];
    state.set(name, 'visiting');
    path.push(name);
    for (const predecessor of byName.get(name)?.after ?? []) {
      if (!byName.has(predecessor)) continue; // unknown names are reported separately
      const cycle = visit(predecessor);
      if (cycle) return cycle;
    }
    path.pop();
    state.set(name, 'done');
    return undefined;
  };

  for (const node of nodes) {
    const cycle = visit(node.name);
    if (cycle) return cycle.reverse(); // read in execution order: a -> b means b runs after a
  }
  return undefined;
}

/** A topological order (predecessors first, ties in declaration order). Assumes the graph is acyclic. */
export function topologicalOrder(nodes: readonly OrderedNode[]): string[] {
  const done = new Set<string>();
  const order: string[] = [];
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const visit = (name: string) => {
    if (done.has(name)) return;
    done.add(name);
    for (const predecessor of byName.get(name)?.after ?? []) visit(predecessor);
    order.push(name);
  };
  nodes.forEach((node) => visit(node.name));
  return order;
}

/** Every component reachable backwards through `after` (all that must complete before `name` starts). */
export function allPredecessors(nodes: readonly OrderedNode[], name: string): Set<string> {
  const byName = new Map(nodes.map((node) => [node.name, node]));
  const seen = new Set<string>();
  const stack = [...(byName.get(name)?.after ?? [])];
  while (stack.length > 0) {
    const next = stack.pop() as string;
    if (seen.has(next)) continue;
    seen.add(next);
    stack.push(...(byName.get(next)?.after ?? []));
  }
  return seen;
}
