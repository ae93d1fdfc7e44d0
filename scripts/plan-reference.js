#!/usr/bin/env node
// `npm run docs:plan`: writes docs/plan-reference.md from the zod schema (through the compiled src/plan/reference.ts).
const { writeFileSync } = require('node:fs');
const path = require('node:path');
const { planReferenceMarkdown } = require('../dist/src/plan/reference');

const target = path.resolve(__dirname, '..', 'docs', 'plan-reference.md');
writeFileSync(target, planReferenceMarkdown());
console.log(`wrote ${path.relative(process.cwd(), target)}`);
