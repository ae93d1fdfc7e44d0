/** The engine registry: one entry per component type. */
import type { Component } from '../plan/schema';
import { filesEngine } from './files';
import { httpEngine } from './http';
import { postgresEngine } from './postgres';
import { redisEngine } from './redis';
import { s3VersionedEngine } from './s3Versioned';
import type { Engine } from './types';

const engines: { [T in Component['type']]: Engine<Extract<Component, { type: T }>> } = {
  postgres: postgresEngine,
  redis: redisEngine,
  files: filesEngine,
  http: httpEngine,
  's3-versioned': s3VersionedEngine,
};

export function engineFor<C extends Component>(component: C): Engine<C> {
  return engines[component.type as C['type']] as unknown as Engine<C>;
}

export { ComponentError } from './errors';
export type { ComponentDump, DumpContext, Engine, EngineFacts } from './types';
export type { RestoreContext } from './types';
