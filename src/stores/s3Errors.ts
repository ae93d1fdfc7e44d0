/**
 * Reading S3 (and Node) errors structurally, not with instanceof Error: Node's own errors (sockets, DNS) may
 * come from another realm. No imports, so every store module (objectLockParams.ts included) can use it
 * without an import cycle.
 */

/** The error's `name` (the S3 error code for SDK errors), or "" when it has none. */
export function errorName(err: unknown): string {
  return typeof err === 'object' && err !== null && 'name' in err && typeof err.name === 'string' ? err.name : '';
}
