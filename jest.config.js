/** Integration tests share one real Temporal dev server, PostgreSQL cluster and MinIO started by test/harness. */
const ESM_ONLY = '@kubernetes/client-node|openid-client|oauth4webapi|jose';

module.exports = {
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  // @kubernetes/client-node and its dependencies are ES modules, which jest's loader cannot require on Node 20.
  transform: { '^.+\\.ts$': ['@swc/jest'], [`/node_modules/(${ESM_ONLY})/.+\\.m?js$`]: ['@swc/jest'] },
  transformIgnorePatterns: [`/node_modules/(?!(${ESM_ONLY})/)`],
  globalSetup: '<rootDir>/test/harness/globalSetup.ts',
  globalTeardown: '<rootDir>/test/harness/globalTeardown.ts',
  testTimeout: 180_000,
  maxWorkers: 2,
};
