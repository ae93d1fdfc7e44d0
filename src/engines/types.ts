import type { Readable } from 'node:stream';
import type { ComponentBackup } from '../catalog/manifest';
import type { Component } from '../plan/schema';

/** What an engine learned while dumping, recorded in the manifest under the engine's name. */
export type EngineFacts = Pick<ComponentBackup, 'postgres'>;

export interface ComponentDump {
  /** The artifact's bytes. It ends only after the dump succeeded, and errors otherwise. */
  stream: Readable;
  /** Resolves with the engine's facts once the dump has succeeded; rejects with a ComponentError. */
  finished: Promise<EngineFacts>;
  /** Stops the dump at once (cancellation, or the upload failed). */
  abort(): void;
}

/**
 * One engine per component type (restic's backend idea, applied to sources): dump to a stream and check
 * an artifact. A new engine is one file implementing this, registered in ./index.ts.
 */
export interface Engine<C extends Component = Component> {
  readonly type: C['type'];
  /** Artifact format name recorded in the manifest, e.g. "pg_dump-custom". */
  readonly format: string;
  /** File extension of the artifact, e.g. "pgdump". */
  readonly extension: string;
  dump(component: C): Promise<ComponentDump>;
  /** Reads an artifact stream to its end and throws a ComponentError when the engine cannot read it. */
  checkArtifact(component: C, artifact: Readable): Promise<void>;
}
