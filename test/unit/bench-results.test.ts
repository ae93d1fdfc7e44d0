/** The benchmark rewrites its own section of bench/RESULTS.md and must leave the other sections alone. */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { writeResults } from '../../bench/throughput';

describe('bench results file', () => {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'bench-results-')), 'RESULTS.md');

  const generated = '## Throughput and memory: Lifeboat vs shell pipelines vs pgBackRest';

  test('the throughput section is replaced in place, the sections before and after it are kept', () => {
    writeFileSync(file, `# Benchmark results\n\n## Compression\n\nzstd wins.\n\n${generated}, old run\n\nold tables\n\n## s3-versioned\n\nmaps.\n`);
    writeResults(file, `${generated}, new run\n\nnew tables\n`);
    expect(readFileSync(file, 'utf8')).toBe(`# Benchmark results\n\n## Compression\n\nzstd wins.\n\n${generated}, new run\n\nnew tables\n\n## s3-versioned\n\nmaps.\n`);
  });

  test('a hand-written section whose heading starts alike is kept, wherever it is', () => {
    const handWritten = '## Throughput and memory: reading the run above\n\nby hand\n';
    writeFileSync(file, `# Benchmark results\n\n${handWritten}\n${generated}, old run\n\nold tables\n`);
    writeResults(file, `${generated}, new run\n\nnew tables\n`);
    expect(readFileSync(file, 'utf8')).toBe(`# Benchmark results\n\n${handWritten}\n${generated}, new run\n\nnew tables\n`);
  });

  test('without a throughput section, it is added at the end', () => {
    writeFileSync(file, '# Benchmark results\n\n## Compression\n\nzstd wins.\n');
    writeResults(file, `${generated}, first run\n\ntables\n`);
    expect(readFileSync(file, 'utf8')).toBe(`# Benchmark results\n\n## Compression\n\nzstd wins.\n\n${generated}, first run\n\ntables\n`);
  });
});
