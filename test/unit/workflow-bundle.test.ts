/**
 * The prebuilt workflow bundle (`npm run build`) carries a source map without the sources' text: the worker
 * parses that map in two threads, and the text alone cost it about 20 MiB. The map itself must stay: the SDK
 * refuses a bundle without one, and stack traces are mapped through it (temporal-cli-recovery.test.ts runs
 * `temporal workflow stack` against a live recovery).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Where `npm run build` writes it (worker/worker.ts's WORKFLOW_BUNDLE, as the built worker sees it). */
const WORKFLOW_BUNDLE = path.resolve(__dirname, '..', '..', 'dist', 'workflow-bundle.js');

interface SourceMap {
  sources: string[];
  sourcesContent?: (string | null)[];
  mappings: string;
}

function inlineSourceMap(code: string): SourceMap {
  // As the SDK finds it (parseWorkflowCode): the last data-URL comment, its base64 payload.
  const at = code.lastIndexOf('//# sourceMappingURL=data:');
  const payload = at < 0 ? -1 : code.indexOf('base64,', at);
  if (payload < 0) throw new Error('the workflow bundle has no inline source map');
  return JSON.parse(Buffer.from(code.slice(payload + 'base64,'.length).trim(), 'base64').toString('utf8')) as SourceMap;
}

describe('the prebuilt workflow bundle', () => {
  const code = existsSync(WORKFLOW_BUNDLE) ? readFileSync(WORKFLOW_BUNDLE, 'utf8') : undefined;

  test('exists (npm run build writes it)', () => {
    expect(code).toBeDefined();
  });

  test("maps back to Lifeboat's workflow sources without carrying their text", () => {
    const map = inlineSourceMap(code!);
    expect(map.sources.some((source) => source.endsWith('workflows/disasterRecovery.ts'))).toBe(true);
    expect(map.mappings.length).toBeGreaterThan(0);
    expect((map.sourcesContent ?? []).filter((content) => content)).toEqual([]);
    // The code itself: what the text was, at most; the 3 MB of sources' text is gone.
    expect(code!.length).toBeLessThan(2.5e6);
  });

  test('loads zod once per workflow thread, through workflows/sharedModules, not once per workflow', () => {
    // The SDK shares what the bundle's preloadModules() requires; everything else is evaluated for each workflow.
    const preload = /exports\.preloadModules = function preloadModules\(\) \{([^}]*)\}/.exec(code!)?.[1] ?? '';
    expect(preload).toContain('workflows/sharedModules.js');
  });
});
