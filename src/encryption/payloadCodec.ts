/**
 * Optional encryption of Temporal payloads (workflow inputs and results, activity arguments and results,
 * heartbeats, signals, updates, queries), so Temporal's history holds ciphertext only. On when LIFEBOAT_PAYLOAD_KEY_FILE or
 * LIFEBOAT_PAYLOAD_KEY is set, in every process that talks to Temporal: worker, CLI, `up`, codec server.
 *
 * Each payload becomes `binary/encrypted`: AES-256-GCM (random 12-byte IV) of the original payload's
 * protobuf bytes, with the key id in its metadata (as in Temporal's samples-typescript encryption sample),
 * so the Web UI and `temporal` CLI can show it through `lifeboat codec-server`.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { METADATA_ENCODING_KEY, ValueError, type DataConverter, type Payload, type PayloadCodec } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { KEY_GENERATION_HINT, KeyMaterialError, keyFingerprint, PAYLOAD_KEY_ENV, PAYLOAD_KEY_FILE_ENV, parseKeyList, readKeySourceText, WrongKeyError } from './keys';
export const ENCRYPTED_ENCODING = 'binary/encrypted';
export const KEY_ID_METADATA = 'encryption-key-id';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const text = (bytes: Uint8Array | null | undefined): string | undefined => (bytes ? Buffer.from(bytes).toString('utf8') : undefined);

export class PayloadEncryptionCodec implements PayloadCodec {
  private readonly keys: Map<string, Buffer>;
  readonly currentKeyId: string;

  /** keys[0] encrypts; all of them decrypt (older keys after a rotation). */
  constructor(keys: Buffer[]) {
    if (keys.length === 0) throw new KeyMaterialError('a payload codec needs at least one key');
    this.keys = new Map(keys.map((key) => [keyFingerprint(key), key]));
    this.currentKeyId = keyFingerprint(keys[0]);
  }

  async encode(payloads: Payload[]): Promise<Payload[]> {
    const key = this.keys.get(this.currentKeyId)!;
    return payloads.map((payload) => {
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv('aes-256-gcm', key, iv);
      const plaintext = temporal.api.common.v1.Payload.encode(payload).finish();
      return {
        metadata: { [METADATA_ENCODING_KEY]: Buffer.from(ENCRYPTED_ENCODING), [KEY_ID_METADATA]: Buffer.from(this.currentKeyId) },
        data: Buffer.concat([iv, cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]),
      };
    });
  }

  async decode(payloads: Payload[]): Promise<Payload[]> {
    return payloads.map((payload) => {
      if (text(payload.metadata?.[METADATA_ENCODING_KEY]) !== ENCRYPTED_ENCODING) return payload;
      const keyId = text(payload.metadata?.[KEY_ID_METADATA]);
      if (!keyId) throw new ValueError('an encrypted payload has no encryption-key-id');
      const key = this.keys.get(keyId);
      if (!key) {
        throw new WrongKeyError(`a payload was encrypted with payload key ${keyId}, which is not configured: add it (after the current key) to ${PAYLOAD_KEY_FILE_ENV} or ${PAYLOAD_KEY_ENV}`);
      }
      const data = Buffer.from(payload.data ?? []);
      if (data.length < IV_BYTES + TAG_BYTES) throw new ValueError('an encrypted payload is too short');
      const decipher = createDecipheriv('aes-256-gcm', key, data.subarray(0, IV_BYTES));
      decipher.setAuthTag(data.subarray(data.length - TAG_BYTES));
      let plaintext: Buffer;
      try {
        plaintext = Buffer.concat([decipher.update(data.subarray(IV_BYTES, data.length - TAG_BYTES)), decipher.final()]);
      } catch {
        throw new ValueError(`an encrypted payload (key ${keyId}) fails authentication: it was altered`);
      }
      return temporal.api.common.v1.Payload.decode(plaintext);
    });
  }
}

/**
 * The payload codec the environment asks for, or undefined when payload encryption is off. Keys: one per
 * line (or separated by spaces or commas), the current one first. Throws KeyMaterialError naming the variable.
 */
export function payloadCodecFromEnv(env: NodeJS.ProcessEnv = process.env): PayloadEncryptionCodec | undefined {
  const fromFile = env[PAYLOAD_KEY_FILE_ENV];
  const fromEnv = env[PAYLOAD_KEY_ENV];
  if (!fromFile && !fromEnv) return undefined;
  if (fromFile && fromEnv) throw new KeyMaterialError(`set ${PAYLOAD_KEY_FILE_ENV} or ${PAYLOAD_KEY_ENV}, not both`);
  const what = 'payload encryption keys';
  const { text: keysText, source } = fromFile ? readKeySourceText({ keyFile: fromFile }, what, env) : readKeySourceText({ keyFromEnv: PAYLOAD_KEY_ENV }, what, env);
  return new PayloadEncryptionCodec(parseKeyList(keysText, source));
}

/**
 * The data converter for clients and workers: the codec when payload encryption is on, else undefined.
 * Failure messages stay readable: encrypting them needs a failure converter inside the workflow bundle.
 */
export function dataConverterFromEnv(env: NodeJS.ProcessEnv = process.env): DataConverter | undefined {
  const codec = payloadCodecFromEnv(env);
  return codec ? { payloadCodecs: [codec] } : undefined;
}

export const PAYLOAD_KEY_HELP = `${PAYLOAD_KEY_FILE_ENV} (a file with one key per line, current first) or ${PAYLOAD_KEY_ENV}; ${KEY_GENERATION_HINT}`;
