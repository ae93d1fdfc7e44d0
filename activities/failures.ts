/**
 * One mapping from the data plane's errors to Temporal failures, so every activity says the same thing about
 * whether a retry can help: engines and scalers decide for themselves, a damaged artifact or a bad time zone
 * never heals, and a store error is retryable unless it is about credentials or a missing bucket.
 */
import { ApplicationFailure } from '@temporalio/activity';
import { InvalidTimeZoneError } from '../src/catalog/retention';
import { ComponentError } from '../src/engines/errors';
import { ArtifactTamperedError, KeyMaterialError, WrongKeyError } from '../src/encryption';
import { ChecksumMismatchError } from '../src/repository/digest';
import { ScalerError } from '../src/scalers';
import { isRetryableStoreError } from '../src/stores';

/** `what` prefixes messages that do not name their subject themselves, e.g. `component "apps"`. */
export function toApplicationFailure(error: unknown, what?: string): ApplicationFailure {
  if (error instanceof ApplicationFailure) return error;
  if (error instanceof ComponentError || error instanceof ScalerError) {
    return ApplicationFailure.create({ message: error.message, type: error.kind, nonRetryable: !error.retryable });
  }
  if (error instanceof ChecksumMismatchError) return ApplicationFailure.nonRetryable(error.message, 'ChecksumMismatch');
  if (error instanceof KeyMaterialError || error instanceof WrongKeyError) return ApplicationFailure.nonRetryable(error.message, 'EncryptionKey');
  if (error instanceof ArtifactTamperedError) return ApplicationFailure.nonRetryable(error.message, 'ArtifactTampered');
  if (error instanceof InvalidTimeZoneError) return ApplicationFailure.nonRetryable(error.message, 'InvalidRetention');
  const message = `${what ? `${what}: ` : ''}${(error as Error).message ?? String(error)}`;
  return ApplicationFailure.create({ message, type: 'StoreError', nonRetryable: !isRetryableStoreError(error) });
}
