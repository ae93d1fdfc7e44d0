/** Exit codes (PRODUCT.md): 0 success, 1 the operation failed, 2 bad input (nothing was started or changed). */
export const EXIT = { ok: 0, failed: 1, badInput: 2 } as const;

/** Bad input detected by a command (unknown set id, conflicting flags): exit 2, nothing changed. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** The operation ran and failed; the message was already printed or is in `message`. Exit 1. */
export class OperationFailed extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperationFailed';
  }
}

/** A commander option parser for a port number (0-65535): anything else is a UsageError naming `flag` (exit 2). */
export function portOption(flag: string): (value: string) => number {
  return (value) => {
    const port = Number(value);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new UsageError(`${flag} must be a port number (0-65535), not "${value}"`);
    return port;
  };
}
