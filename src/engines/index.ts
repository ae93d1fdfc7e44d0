/** The engine registry: one entry per component type. */
import type { CompressionRecord } from '../catalog/manifest';
import type { Component } from '../plan/schema';
import { resolveCompression } from './compression';
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

/**
 * The compression a backup of `component` really uses: the plan's, else its engine's default, with zstd falling
 * back to gzip where `zstd` is missing. The backup activity resolves it once and hands it to the engine in
 * DumpContext, so the key's suffix, the manifest and the bytes agree.
 */
export function compressionFor(component: Component): CompressionRecord {
  return resolveCompression(component.compression ?? engineFor(component).defaultCompression);
}

export { ComponentError } from './errors';
export type { ComponentDump, DumpContext, Engine, EngineFacts } from './types';
export type { RestoreContext } from './types';
