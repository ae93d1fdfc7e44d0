/** docs/plan-reference.md is generated from the zod schema; the committed file must be what the schema generates. */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { planReferenceMarkdown, PLAN_REFERENCE_COMMAND } from '../../src/plan/reference';
import { planSchema } from '../../src/plan/schema';

const file = path.resolve(__dirname, '..', '..', 'docs', 'plan-reference.md');

test('the committed docs/plan-reference.md is the one the schema generates', () => {
  const committed = readFileSync(file, 'utf8');
  const generated = planReferenceMarkdown();
  if (committed !== generated) {
    const committedLines = committed.split('\n');
    const line = generated.split('\n').findIndex((text, index) => text !== committedLines[index]);
    throw new Error(`docs/plan-reference.md is out of date with src/plan/schema.ts (first difference at line ${line + 1}): run \`${PLAN_REFERENCE_COMMAND}\` and commit the result`);
  }
});

test('it names every top-level key, every component and store type, and the descriptions given in the schema', () => {
  const reference = planReferenceMarkdown();
  for (const key of Object.keys(planSchema.shape)) expect(reference).toContain(`| \`${key}\` |`);
  for (const type of ['postgres', 'redis', 'files', 'http']) expect(reference).toContain(`## components[] (type: ${type})`);
  for (const type of ['local', 's3']) expect(reference).toContain(`## store (type: ${type})`);
  expect(reference).toMatch(/\| `staleAfter` \| string \| {2}\| {2}\| Age of the newest complete set after which the plan counts as stale/);
  expect(reference).toMatch(/\| `keepDaily` \| whole number \|/);
});
