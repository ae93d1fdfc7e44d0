/** Integration tests share one real Temporal dev server, PostgreSQL cluster and MinIO started by test/harness. */
module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  transform: { '^.+\\.ts$': ['@swc/jest'] },
  globalSetup: '<rootDir>/test/harness/globalSetup.ts',
  globalTeardown: '<rootDir>/test/harness/globalTeardown.ts',
  testTimeout: 180_000,
  maxWorkers: 2,
};
