/**
 * docs/plan-reference.md, generated from the zod schema (src/plan/schema.ts) through its JSON Schema: every
 * key with its type, whether it is required, its default, its constraints and its `.describe()` text, so the
 * reference cannot drift from what `plan validate` accepts. `npm run docs:plan` writes it; a unit test fails
 * when the committed file differs.
 */
import { z } from 'zod';
import { planSchema } from './schema';

interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  default?: unknown;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
}

export const PLAN_REFERENCE_COMMAND = 'npm run docs:plan';

const isObject = (schema: JsonSchema) => schema.properties !== undefined;
const variants = (schema: JsonSchema) => schema.oneOf ?? schema.anyOf;
/** The `type` constant that tells a union's object variants apart (store, component, scaling target). */
const discriminator = (schema: JsonSchema) => (schema.properties?.type?.const !== undefined ? String(schema.properties.type.const) : undefined);

function sectionName(path: string, variant?: string): string {
  return variant ? `${path} (type: ${variant})` : path;
}

/** A union member's section: by its `type`, else by the keys it requires (restore checks: SQL or HTTP). */
function variantTitle(path: string, variant: JsonSchema): string {
  const type = discriminator(variant);
  return type ? sectionName(path, type) : `${path} (with ${(variant.required ?? []).join(', ')})`;
}

/** How a union member is named where it is referenced. */
function variantLabel(variant: JsonSchema): string {
  return discriminator(variant) ?? `with ${(variant.required ?? []).join(', ')}`;
}

function anchor(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9 -]/g, '').replace(/ /g, '-');
}

const code = (value: unknown) => `\`${typeof value === 'string' && value !== '' ? value : JSON.stringify(value)}\``;

/** What a value is, in words, linking to the section of a nested object. */
function describeType(schema: JsonSchema, path: string, sections: Map<string, string>): string {
  if (schema.const !== undefined) return code(schema.const);
  if (schema.enum) return schema.enum.map(code).join(' \\| ');
  const union = variants(schema);
  if (union) {
    return union.map((variant) => (isObject(variant) ? `[${variantLabel(variant)}](#${anchor(variantTitle(path, variant))})` : describeType(variant, path, sections))).join(' \\| ');
  }
  if (isObject(schema)) return `[object](#${anchor(path)})`;
  if (schema.type === 'array' && schema.items) return `list of ${describeType(schema.items, `${path}[]`, sections)}`;
  if (schema.type === 'integer') return 'whole number';
  return Array.isArray(schema.type) ? schema.type.join(' \\| ') : (schema.type ?? 'any');
}

function constraints(schema: JsonSchema): string[] {
  const found: string[] = [];
  if (schema.pattern) found.push(`matches ${code(schema.pattern)}`);
  if (schema.format) found.push(schema.format === 'uri' ? 'a URL' : schema.format);
  if (schema.minLength === 1) found.push('not empty');
  else if (schema.minLength !== undefined) found.push(`at least ${schema.minLength} characters`);
  if (schema.maxLength !== undefined) found.push(`at most ${schema.maxLength} characters`);
  if (schema.minimum !== undefined) found.push(`≥ ${schema.minimum}`);
  if (schema.exclusiveMinimum !== undefined) found.push(`> ${schema.exclusiveMinimum}`);
  if (schema.maximum !== undefined && schema.maximum < Number.MAX_SAFE_INTEGER) found.push(`≤ ${schema.maximum}`);
  if (schema.minItems !== undefined) found.push(`at least ${schema.minItems} item${schema.minItems === 1 ? '' : 's'}`);
  return found;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** Renders the object at `path` as a table, and queues a section for every nested object. */
function renderObject(schema: JsonSchema, title: string, path: string, sections: Map<string, string>, queue: [JsonSchema, string, string][]): void {
  const rows = Object.entries(schema.properties ?? {}).map(([key, property]) => {
    const childPath = path === '' ? key : `${path}.${key}`;
    // Nested objects and unions of objects get sections of their own.
    const nested = property.type === 'array' && property.items ? property.items : property;
    const nestedPath = nested === property ? childPath : `${childPath}[]`;
    const union = variants(nested);
    if (isObject(nested)) queue.push([nested, nestedPath, nestedPath]);
    for (const variant of union ?? []) if (isObject(variant)) queue.push([variant, variantTitle(nestedPath, variant), nestedPath]);
    const required = schema.required?.includes(key) && property.default === undefined ? 'yes' : '';
    const limits = [...constraints(property), ...(nested !== property ? constraints(nested) : [])];
    const text = property.description ?? nested.description ?? '';
    const details = limits.length === 0 ? text : text === '' ? limits.join('; ') : `${text} (${limits.join('; ')})`;
    return `| \`${key}\` | ${describeType(property, nestedPath, sections)} | ${required} | ${property.default === undefined ? '' : code(property.default)} | ${cell(details)} |`;
  });
  const intro = schema.description ? `${schema.description}\n\n` : '';
  sections.set(title, `## ${title}\n\n${intro}| key | type | required | default | meaning |\n|---|---|---|---|---|\n${rows.join('\n')}\n`);
}

export function planReferenceMarkdown(): string {
  const root = z.toJSONSchema(planSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  const sections = new Map<string, string>();
  const queue: [JsonSchema, string, string][] = [[root, 'The plan', '']];
  while (queue.length > 0) {
    const [schema, title, path] = queue.shift()!;
    if (!sections.has(title)) renderObject(schema, title, path, sections, queue);
  }
  const contents = [...sections.keys()].map((title) => `- [${title}](#${anchor(title)})`).join('\n');
  return [
    '# Plan reference',
    '',
    `<!-- Generated from src/plan/schema.ts by \`${PLAN_REFERENCE_COMMAND}\`: do not edit by hand. -->`,
    '',
    'Every key a plan file (YAML or JSON) may hold, generated from the schema `lifeboat plan validate` checks against.',
    'Keys marked *required* must be given; others take their default or stay unset. Durations are strings such as',
    '`30s`, `5m`, `6h` or `7d`. Secrets never appear in a plan: it names the environment variable or file that holds',
    'them. Rules across keys (a DAG without cycles, `cron` or `every`, a keep rule in `retention`) are checked too and',
    'explained in the [README](../README.md).',
    '',
    contents,
    '',
    ...[...sections.values()],
  ].join('\n');
}
