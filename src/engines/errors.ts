/**
 * The failure a user must act on when a component cannot be backed up, verified or restored.
 * `retryable` tells the activity layer whether trying again can help (a server restarting) or not (a wrong
 * password, a missing database): the latter fail at once instead of burning retries.
 */
export class ComponentError extends Error {
  constructor(
    readonly component: string,
    message: string,
    readonly retryable: boolean,
    /** A short machine-readable cause, e.g. "ConnectionRefused", "AuthenticationFailed". */
    readonly kind: string,
  ) {
    super(`component "${component}": ${message}`);
    this.name = 'ComponentError';
  }
}

/** The variable a plan references is missing from the worker's environment: set it where the worker runs. */
export function resolveEnvReference(component: string, variable: string, what: string): string {
  const value = process.env[variable];
  if (value === undefined || value === '') {
    throw new ComponentError(
      component,
      `environment variable ${variable} (the ${what}) is not set in the worker's environment: set it where the worker runs`,
      false,
      'MissingEnvironmentVariable',
    );
  }
  return value;
}
