/** Reading a recorded artifact into a consumer (a restore, a check), its checksum enforced as it streams. */
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ComponentBackup, CompressionRecord } from '../catalog/manifest';
import { type Keyring, unsealingStream } from '../encryption';
import { decompressor } from '../engines/compression';
import type { BackupStore } from '../stores/types';
import { ChecksumMismatchError, type VerifyingStream } from './digest';

/**
 * Streams a recorded artifact through `verifying` (its sha256 and size, last bytes held back until they
 * match), decryption and decompression into `restore`, and resolves with what `restore` resolved with. With
 * `compressed`, decompression is left to `restore` (it gets the compression still applied; otherwise
 * `{algorithm: 'none'}`). The artifact is opened before `restore` starts: a store failure leaves the target
 * alone. Both the read and `restore` settle before this does; a checksum mismatch is thrown rather than the
 * error it caused in `restore`.
 */
export async function restoreFromArtifact<T>(
  store: BackupStore,
  keyring: Keyring,
  backup: ComponentBackup,
  verifying: VerifyingStream,
  restore: (content: Readable, compression: CompressionRecord) => Promise<T>,
  options: { compressed?: boolean } = {},
): Promise<T> {
  const decrypt = unsealingStream(backup, keyring);
  const source = await store.get(backup.key);
  const content = options.compressed ? decrypt : decompressor(backup.compression);
  const read = options.compressed ? pipeline(source, verifying, decrypt) : pipeline(source, verifying, decrypt, content);
  // Both settle before this returns: a failed read must not leave the restore still dropping or creating the target.
  const [readOutcome, restoreOutcome] = await Promise.allSettled([read, restore(content, options.compressed ? backup.compression : { algorithm: 'none' })]);
  if (readOutcome.status === 'rejected' && readOutcome.reason instanceof ChecksumMismatchError) throw readOutcome.reason;
  if (restoreOutcome.status === 'rejected') throw restoreOutcome.reason;
  if (readOutcome.status === 'rejected') throw readOutcome.reason;
  return restoreOutcome.value;
}
