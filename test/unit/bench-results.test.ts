/** The benchmark rewrites its own section of bench/RESULTS.md and must leave the other sections alone. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeResults } from '../../bench/throughput';

describe('bench results file', () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'bench-results-')), 'RESULTS.md');

  test('the throughput section is replaced in place, the sections before and after it are kept', () => {
    writeFileSync(file, '# Benchmark results\n\n## Compression\n\nzstd wins.\n\n## Throughput and memory: old run\n\nold tables\n\n## s3-versioned\n\nmaps.\n');
    writeResults(file, '## Throughput and memory: new run\n\nnew tables\n');
    expect(readFileSync(file, 'utf8')).toBe(
      '# Benchmark results\n\n## Compression\n\nzstd wins.\n\n## Throughput and memory: new run\n\nnew tables\n\n## s3-versioned\n\nmaps.\n',
    );
  });

  test('without a throughput section, it is added at the end', () => {
    writeFileSync(file, '# Benchmark results\n\n## Compression\n\nzstd wins.\n');
    writeResults(file, '## Throughput and memory: first run\n\ntables\n');
    expect(readFileSync(file, 'utf8')).toBe('# Benchmark results\n\n## Compression\n\nzstd wins.\n\n## Throughput and memory: first run\n\ntables\n');
  });
});
