// Workflow code must be deterministic: no Node built-ins, no I/O libraries, no clock or network.
// Workflows may only import the Temporal workflow API and the pure parts of src/.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';

export const workflowRestrictedImports = {
  paths: [
    ...builtinModules.map((name) => ({ name, message: 'Workflow code must not import Node built-ins: move I/O into an activity.' })),
    ...builtinModules.map((name) => ({ name: `node:${name}`, message: 'Workflow code must not import Node built-ins: move I/O into an activity.' })),
  ],
  patterns: [
    {
      group: ['pg', 'pg-*', '@aws-sdk/*', 'yaml', 'commander', '@temporalio/client', '@temporalio/worker', '@temporalio/activity', '@temporalio/testing', '@kubernetes/*'],
      message: 'Workflow code must not import I/O libraries: call an activity instead.',
    },
    {
      // Type-only imports are erased at compile time: proxyActivities<typeof activities> needs one.
      allowTypeImports: true,
      group: [
        '**/activities',
        '**/activities/*',
        '**/worker',
        '**/worker/*',
        '**/src/plan/load',
        ...['engines', 'stores', 'scalers', 'repository', 'embedded', 'cli', 'metrics'].flatMap((dir) => [`**/src/${dir}`, `**/src/${dir}/*`]),
      ],
      message: 'Workflows may import only pure modules (src/plan schema, src/catalog, src/temporal); reach activities through proxyActivities.',
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: { '@typescript-eslint/no-restricted-imports': ['error', workflowRestrictedImports] },
  },
  {
    files: ['**/*.js', '**/*.mjs', '**/*.cjs'],
    languageOptions: { globals: { require: 'readonly', module: 'writable', process: 'readonly', console: 'readonly', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
