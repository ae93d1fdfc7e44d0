/**
 * Encryption keys: 32 random bytes, written as base64 or hex text, read from an environment variable or a
 * file at the moment they are needed (in the worker, or in the CLI for `backup verify`). Key material never
 * leaves this process: plans name where a key lives, manifests record only its id.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { EncryptionKeySource, EncryptionSettings } from '../plan/schema';

export const KEY_BYTES = 32;

export const KEY_GENERATION_HINT = 'generate one with `openssl rand -base64 32`';

/** The variables that turn Temporal payload encryption on (payloadCodec.ts): here, so that checking them loads no SDK. */
export const PAYLOAD_KEY_ENV = 'LIFEBOAT_PAYLOAD_KEY';
export const PAYLOAD_KEY_FILE_ENV = 'LIFEBOAT_PAYLOAD_KEY_FILE';

export function payloadEncryptionRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env[PAYLOAD_KEY_ENV] || env[PAYLOAD_KEY_FILE_ENV]);
}

/** A configured key cannot be loaded (unset variable, unreadable file, not 32 bytes): bad input, fixed where the key is configured. */
export class KeyMaterialError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyMaterialError';
  }
}

/** The key an artifact (or payload) needs is not among those configured, or the configured one is not it. */
export class WrongKeyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WrongKeyError';
  }
}

export interface ResolvedKey {
  id: string;
  key: Buffer;
  /** Where it came from, for messages: "environment variable X" or "file Y". Never the key. */
  source: string;
}

/**
 * Parses key text: exactly 64 hex digits, or base64 (standard or URL-safe) of exactly 32 bytes. Surrounding
 * whitespace is ignored. Returns undefined for anything else; callers name the source, never the text.
 */
export function parseKeyText(text: string): Buffer | undefined {
  const trimmed = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(trimmed)) return Buffer.from(trimmed, 'hex');
  if (!/^[A-Za-z0-9+/_-]{43}=?$/.test(trimmed)) return undefined;
  const bytes = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64');
  return bytes.length === KEY_BYTES ? bytes : undefined;
}

/** A key's default id: a fingerprint that identifies the key without revealing it (HMAC under a fixed label). */
export function keyFingerprint(key: Buffer): string {
  return createHmac('sha256', key).update('lifeboat key id v1').digest('hex').slice(0, 16);
}

function notAKey(source: string): KeyMaterialError {
  return new KeyMaterialError(`${source} does not hold a ${KEY_BYTES}-byte key: give 64 hex digits or base64 of ${KEY_BYTES} bytes (${KEY_GENERATION_HINT})`);
}

/** Reads the text of a key source; throws KeyMaterialError naming the variable or file. */
export function readKeySourceText(source: { keyFromEnv?: string; keyFile?: string }, what: string, env: NodeJS.ProcessEnv = process.env): { text: string; source: string } {
  if (source.keyFromEnv !== undefined) {
    const described = `environment variable ${source.keyFromEnv} (${what})`;
    const value = env[source.keyFromEnv];
    if (value === undefined || value.trim() === '') throw new KeyMaterialError(`${described} is not set: set it where this process runs (${KEY_GENERATION_HINT})`);
    return { text: value, source: described };
  }
  if (source.keyFile !== undefined) {
    const described = `key file ${source.keyFile} (${what})`;
    try {
      return { text: readFileSync(source.keyFile, 'utf8'), source: described };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const reason = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not readable by this process' : `cannot be read (${code ?? (error as Error).message})`;
      throw new KeyMaterialError(`${described} ${reason}`);
    }
  }
  throw new KeyMaterialError(`${what}: give keyFromEnv or keyFile`);
}

/** Loads one configured key; throws KeyMaterialError naming the variable or file (never the key). */
export function loadKey(source: EncryptionKeySource, what: string, env: NodeJS.ProcessEnv = process.env): ResolvedKey {
  const { text, source: described } = readKeySourceText(source, what, env);
  const key = parseKeyText(text);
  if (!key) throw notAKey(described);
  return { id: source.keyId ?? keyFingerprint(key), key, source: described };
}

/** Loads several keys from one text (one per line, or separated by spaces or commas), e.g. a payload key file. */
export function parseKeyList(text: string, described: string): Buffer[] {
  const parts = text.split(/[\s,]+/).filter((part) => part !== '');
  if (parts.length === 0) throw new KeyMaterialError(`${described} is empty (${KEY_GENERATION_HINT})`);
  return parts.map((part, index) => {
    const key = parseKeyText(part);
    if (!key) throw notAKey(parts.length > 1 ? `key ${index + 1} of ${described}` : described);
    return key;
  });
}

/**
 * A plan's keys: the current one (new sets) and the previous ones (older sets). Each is loaded when first
 * needed, so a backup does not depend on an old key being mounted, nor a plain set's restore on any key.
 */
export class Keyring {
  private readonly loaded = new Map<number, ResolvedKey>();
  private readonly sources: { source: EncryptionKeySource; what: string }[];

  private constructor(
    readonly settings: EncryptionSettings | undefined,
    private readonly env: NodeJS.ProcessEnv,
  ) {
    this.sources = settings
      ? [{ source: settings, what: 'encryption.keyFromEnv/keyFile' }, ...settings.previousKeys.map((source, index) => ({ source, what: `encryption.previousKeys[${index}]` }))]
      : [];
  }

  static forPlan(plan: { encryption?: EncryptionSettings }, env: NodeJS.ProcessEnv = process.env): Keyring {
    return new Keyring(plan.encryption, env);
  }

  get enabled(): boolean {
    return this.settings !== undefined;
  }

  /** The key new artifacts are encrypted with; undefined when the plan has no encryption. */
  current(): ResolvedKey | undefined {
    return this.enabled ? this.load(0) : undefined;
  }

  /** Loads every configured key (current and previous): a check that all of them are usable. */
  loadAll(): ResolvedKey[] {
    return this.sources.map((_, index) => this.load(index));
  }

  /** The configured key with this id; throws WrongKeyError (saying what to configure) when there is none. */
  require(keyId: string, what: string): ResolvedKey {
    if (!this.enabled) {
      throw new WrongKeyError(`${what} is encrypted with key ${keyId}, and the plan configures no encryption keys: add encryption.keyFromEnv or keyFile (and previousKeys) with that key`);
    }
    // A key that cannot be loaded does not hide one that can; it is reported only when no key matches.
    let unloadable: KeyMaterialError | undefined;
    for (let index = 0; index < this.sources.length; index++) {
      const explicit = this.sources[index].source.keyId;
      if (explicit !== undefined && explicit !== keyId) continue; // not this one: no need to load it
      try {
        const key = this.load(index);
        if (key.id === keyId) return key;
      } catch (error) {
        if (!(error instanceof KeyMaterialError)) throw error;
        unloadable ??= error;
      }
    }
    if (unloadable) throw new KeyMaterialError(`${what} needs key ${keyId}, and a configured key cannot be loaded: ${unloadable.message}`);
    throw new WrongKeyError(`${what} was encrypted with key ${keyId}, which is not configured: add it to encryption.previousKeys`);
  }

  private load(index: number): ResolvedKey {
    let key = this.loaded.get(index);
    if (!key) {
      const { source, what } = this.sources[index];
      key = loadKey(source, what, this.env);
      this.loaded.set(index, key);
    }
    return key;
  }
}
