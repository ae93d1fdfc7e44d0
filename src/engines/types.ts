import type { Readable } from 'node:stream';
import type { ArtifactRef, ComponentBackup, CompressionRecord, Manifest } from '../catalog/manifest';
import type { Component, Compression, Plan } from '../plan/schema';
import type { BackupStore } from '../stores/types';

/** What an engine learned while dumping, recorded in the manifest under the engine's name. */
export type EngineFacts = Partial<Pick<ComponentBackup, 'postgres' | 'redis' | 'files' | 'http' | 'dependsOn' | 's3Versioned'>>;

export interface ComponentDump {
  /** The artifact's bytes (uncompressed: the activity compresses). It ends only after the dump succeeded, and errors otherwise. */
  stream: Readable;
  /** Resolves with the engine's facts once the dump has succeeded; rejects with a ComponentError. */
  finished: Promise<EngineFacts>;
  /** Stops the dump at once (cancellation, or the upload failed). */
  abort(): void;
  /** An estimate, on the high side, of the source's size (e.g. the database's size): the store sizes its upload parts by it, and progress shows an ETA against it. */
  expectedBytes?: number;
  /**
   * Set when `stream` is already compressed, exactly as the activity resolved it (the engine piped its dump
   * process straight into the compressor process, so the raw bytes never pass through Node).
   */
  compressed?: CompressionRecord;
  /** With `compressed`: bytes the source has produced so far (before compression), when the engine can tell. */
  sourceBytes?(): number | undefined;
}

/** What a dump may need beyond its component: the set it belongs to and the store (for incrementals). */
export interface DumpContext {
  plan: Plan;
  setId: string;
  /** When the set started: the instant an "as of" export asks for. */
  setStartedAt: Date;
  store: BackupStore;
  /**
   * The compression the activity resolved for this component, once (zstd falls back to gzip where `zstd` is
   * missing): its key's suffix and the manifest say this. An engine that compresses itself (see
   * ComponentDump.compressed) uses this record, never a resolution of its own that could come out otherwise.
   */
  compression: CompressionRecord;
  /** The plan's complete sets, oldest first. */
  completeSets(): Promise<Manifest[]>;
  /** Stores an extra artifact beside the main one, at "<plan>/<set>/<component>.<suffix>"; recorded in the manifest. */
  putSidecar(suffix: string, body: Readable): Promise<ArtifactRef>;
}

/**
 * One engine per component type (restic's backend idea, applied to sources): dump to a stream and check
 * an artifact. A new engine is one file implementing this, registered in ./index.ts.
 */
export interface Engine<C extends Component = Component> {
  readonly type: C['type'];
  /** Artifact format name recorded in the manifest, e.g. "pg_dump-custom". */
  readonly format: string;
  /** File extension of the uncompressed artifact, e.g. "pgdump"; ".zst"/".gz" is appended when compressed. */
  readonly extension: string;
  /** Compression used when the plan names none. */
  readonly defaultCompression: Compression;
  dump(component: C, context: DumpContext): Promise<ComponentDump>;
  /**
   * Reads a (decompressed) artifact stream to its end; throws a ComponentError when the engine cannot read it.
   * `recorded` is the manifest's entry, for checks against what the backup recorded (content type, audit facts).
   */
  checkArtifact(component: C, artifact: Readable, recorded?: ComponentBackup): Promise<void>;
  /**
   * Replaces the component's live data with the (decompressed) artifact. The stream errors if its checksum
   * does not match, before its last bytes arrive: an engine must not commit anything until the stream ended.
   * Engines without a restore (an HTTP export is read by operators, not written back) leave it out. The
   * verify phase compares the result with the manifest afterwards.
   */
  restore?(component: C, artifact: Readable, context?: RestoreContext): Promise<void>;
  /**
   * Like `restore`, but takes the artifact still compressed as `compression` records (checksum-verified and
   * decrypted): an engine that offers it decompresses in a child process piped into its restore process, so
   * the decompressed bytes never pass through Node. The caller prefers it to `restore` when present.
   */
  restoreCompressed?(component: C, artifact: Readable, compression: CompressionRecord, context?: RestoreContext): Promise<void>;
}

/** What a restore may need beyond its component: the plan (e.g. a consistency query on another component) and a progress sink. */
export interface RestoreContext {
  plan: Plan;
  /** Progress for the activity's heartbeats, e.g. {phase: "applying", objects: 1200}. */
  progress(detail: Record<string, string | number>): void;
}
