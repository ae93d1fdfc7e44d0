/** `backup verify` for file trees: the artifact must read as tar to its end. */
import type { Readable } from 'node:stream';
import type { FilesComponent } from '../../plan/schema';
import { spawnWithInput } from '../childProcess';
import { ComponentError } from '../errors';
import { drained } from './backpressure';
import { tarFailureDetail } from './tarProcess';

/**
 * Reads an artifact with `tar --list`: it fails on a header checksum, a truncated member or anything that is
 * not tar. The artifact is read to its end whatever tar does, because the caller checksums the same stream.
 */
export async function checkFilesArtifact(component: FilesComponent, artifact: Readable): Promise<void> {
  const list = spawnWithInput('tar', ['--list', '--file=-']);
  list.stdout.on('error', () => undefined); // the failure is reported through `exited`
  list.stdout.resume();
  let accepting = true;
  const stopAccepting = () => (accepting = false);
  list.stdin.once('error', stopAccepting).once('close', stopAccepting);
  try {
    for await (const chunk of artifact) {
      if (accepting && !list.stdin.write(chunk)) await drained(list.stdin);
    }
    if (accepting) list.stdin.end();
    await list.exited;
  } catch (error) {
    list.kill();
    throw new ComponentError(component.name, `tar --list cannot read the artifact: ${tarFailureDetail(error)}`, false, 'ArtifactUnreadable');
  }
}
