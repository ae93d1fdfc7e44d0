import type { Command } from 'commander';

/** Placeholder: `lifeboat prune` (being written). */
export function registerPruneCommand(_program: Command): void {}
