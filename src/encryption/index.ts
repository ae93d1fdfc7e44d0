/**
 * Client-side encryption of artifacts, as the backup, restore and verify pipelines use it:
 *
 *   backup:  engine -> compressor -> sealingStream -> digest -> store     (sha256 of the stored, encrypted bytes)
 *   read:    store -> checksum -> unsealingStream -> decompressor -> engine
 *
 * Both are pass-throughs when encryption is off, so the pipelines have one shape.
 */
import { PassThrough, type Duplex } from 'node:stream';
import type { EncryptionRecord } from '../catalog/manifest';
import type { EncryptionSettings } from '../plan/schema';
import { Keyring } from './keys';
import { DecryptStream, ENCRYPTION_ALGORITHM, EncryptStream } from './stream';

export { KeyMaterialError, Keyring, WrongKeyError, keyFingerprint, parseKeyText } from './keys';
export { ArtifactTamperedError, DecryptStream, ENCRYPTION_ALGORITHM, EncryptStream } from './stream';

/** How a backup seals its artifacts: the current key and what the manifest records about it. */
export interface ArtifactSeal {
  record: EncryptionRecord;
  encryptor(): Duplex;
}

/** The seal for new artifacts of a plan, or undefined when it has no encryption. Loads the current key (KeyMaterialError if it cannot). */
export function artifactSeal(plan: { encryption?: EncryptionSettings }): ArtifactSeal | undefined {
  const key = Keyring.forPlan(plan).current();
  if (!key) return undefined;
  return { record: { algorithm: ENCRYPTION_ALGORITHM, keyId: key.id }, encryptor: () => new EncryptStream(key) };
}

/** The stage that encrypts a new artifact (a pass-through without a seal). */
export function sealingStream(seal: ArtifactSeal | undefined): Duplex {
  return seal ? seal.encryptor() : new PassThrough({ highWaterMark: 1024 * 1024 });
}

/**
 * The stage that decrypts a stored artifact as its manifest describes it (a pass-through for a plain one).
 * Throws WrongKeyError at once when the key it needs is not configured, before anything is read.
 */
export function unsealingStream(artifact: { key: string; encryption?: EncryptionRecord }, keyring: Keyring): Duplex {
  if (!artifact.encryption) return new PassThrough({ highWaterMark: 1024 * 1024 });
  if (artifact.encryption.algorithm !== ENCRYPTION_ALGORITHM) {
    throw new Error(`artifact ${artifact.key} is encrypted with "${artifact.encryption.algorithm}", which this Lifeboat does not know: use the version that wrote it`);
  }
  keyring.require(artifact.encryption.keyId, `artifact ${artifact.key}`);
  return new DecryptStream(artifact.key, (keyId) => keyring.require(keyId, `artifact ${artifact.key}`));
}
