/** Stores by plan type: a new store is one file implementing BackupStore plus one line in `factories`. */
import type { StoreConfig } from '../plan/schema';
import { LocalStore } from './local';
import { S3Store, type S3StoreOptions } from './s3';
import type { BackupStore } from './types';

export * from './types';
export { InvalidKeyError, assertValidKey } from './keys';
export { LocalStore } from './local';
export {
  BucketNotFoundError,
  DEFAULT_PART_SIZE,
  isRetryableStoreError,
  S3Store,
  StoreAccessDeniedError,
  StoreConfigurationError,
  StoreCredentialsError,
  StoreUnreachableError,
  type IncompleteUpload,
  type S3PutOptions,
  type S3StoreOptions,
} from './s3';

export interface CreateStoreOptions {
  s3?: S3StoreOptions;
}

type StoreType = StoreConfig['type'];
type StoreFactory<T extends StoreType> = (
  config: Extract<StoreConfig, { type: T }>,
  options: CreateStoreOptions,
) => BackupStore;

/** Mapped over every store type in the schema, so a type added there without a factory here fails to compile. */
const factories: { [T in StoreType]: StoreFactory<T> } = {
  local: (config) => new LocalStore(config),
  s3: (config, options) => new S3Store(config, options.s3),
};

export function createStore(config: StoreConfig, options: CreateStoreOptions = {}): BackupStore {
  // TypeScript cannot correlate factories[config.type] with config's narrowed type; the mapped type above
  // guarantees they match.
  const factory = factories[config.type] as StoreFactory<StoreType>;
  return factory(config, options);
}
