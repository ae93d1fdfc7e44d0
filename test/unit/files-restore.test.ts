/** A file-tree restore fails when its artifact stream fails, even where GNU tar would exit 0. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { restoreFilesArtifacts } from '../../src/engines/files';

test('an artifact cut off between two members, with a read error, is not restored as whole', async () => {
  const source = mkdtempSync(path.join(tmpdir(), 'lifeboat-restore-src-'));
  writeFileSync(path.join(source, 'a.txt'), 'first');
  writeFileSync(path.join(source, 'b.txt'), 'second');
  const archive = execFileSync('tar', ['--create', '--file=-', '--format=posix', '-C', source, 'a.txt', 'b.txt']);
  // A POSIX member here is a pax header (2 blocks) plus a header and one data block: cut right after a.txt.
  const firstMember = archive.subarray(0, 4 * 512);
  const broken = new Readable({
    read() {
      this.push(firstMember);
      this.destroy(new Error('connection reset by peer'));
    },
  });
  const target = mkdtempSync(path.join(tmpdir(), 'lifeboat-restore-dst-'));
  await expect(restoreFilesArtifacts({ full: broken, targetDir: target, component: 'ledger' })).rejects.toThrow(/reading the artifact failed: connection reset by peer/);
});
