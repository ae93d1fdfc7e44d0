/**
 * One dump, in constant memory and without temp files:
 *   walk (sorted, excludes applied) --NUL-separated names--> `tar --create --no-recursion` --> TarObserver --> activity
 *        \--> index.jsonl.gz sidecar (one line per entry)          (audit-log lines validated as they pass)
 */
import path from 'node:path';
import { createGzip } from 'node:zlib';
import type { FilesFacts } from '../../catalog/manifest';
import type { FilesComponent } from '../../plan/schema';
import { Keyring } from '../../encryption';
import { ComponentError } from '../errors';
import type { ComponentDump, DumpContext, EngineFacts } from '../types';
import { AuditFileSink, AuditLogReport } from './auditLog';
import { writeOrWait } from './backpressure';
import { INDEX_SIDECAR_SUFFIX, indexIsIntact } from './fileIndex';
import { pathMatcher } from './globs';
import { BaseComparison, chooseBase, type IncrementalBase } from './incrementalBase';
import { checkRoot, walkTree } from './sourceTree';
import { TarFormatError, TarObserver } from './tarObserver';
import { startTarCreate } from './tarProcess';

function toComponentError(component: string, error: unknown): ComponentError {
  if (error instanceof ComponentError) return error;
  if (error instanceof TarFormatError) return new ComponentError(component, `tar produced an unreadable stream: ${error.message}`, true, 'TarFailed');
  return new ComponentError(component, (error as Error).message ?? String(error), true, 'FilesError');
}

export async function dumpFiles(component: FilesComponent, context: DumpContext): Promise<ComponentDump> {
  // Relative paths are the worker's, like a local store's.
  const root = path.resolve(component.path);
  await checkRoot(component.name, root);

  let base: IncrementalBase | undefined;
  let comparison: BaseComparison | undefined;
  if (component.incremental) {
    const keyring = Keyring.forPlan(context.plan);
    base = chooseBase(component, await context.completeSets());
    if (base && !(await indexIsIntact(context.store, base.index, keyring))) base = undefined; // a full is always correct
    if (base) comparison = await BaseComparison.open(context.store, base.index, keyring);
  }
  const excluded = pathMatcher(component.exclude);
  const isAuditFile = component.auditLog ? pathMatcher(component.auditLog.files) : undefined;
  const audit = component.auditLog ? new AuditLogReport(component.auditLog.requiredFields) : undefined;

  // The first failure is the one reported; everything it breaks afterwards (a killed tar, a destroyed
  // stream) is a consequence.
  let failure: ComponentError | undefined;
  const fail = (error: unknown): ComponentError => {
    if (!failure) {
      failure = toComponentError(component.name, error);
      tar.kill('SIGKILL');
      comparison?.close();
      if (!index.destroyed) index.destroy(failure);
      if (!observer.destroyed) observer.destroy(failure);
    }
    return failure;
  };

  const { tar, verdict } = startTarCreate(component.name, root);

  let fileCount = 0;
  let sourceBytes = 0;
  const observer = new TarObserver({
    onMember: (member) => {
      if (member.type !== '5') fileCount++;
      if (member.type === '0' || member.type === '7') {
        sourceBytes += member.size;
        if (audit && isAuditFile?.(member.path, false)) return new AuditFileSink(audit.file(member.path), member.path.endsWith('.gz'));
      }
      return undefined;
    },
    // The stream ends only once tar has exited successfully.
    beforeEnd: () => verdict,
  });
  tar.stdout.pipe(observer);

  const index = createGzip();
  const indexStored = context.putSidecar(INDEX_SIDECAR_SUFFIX, index);

  const walked = (async () => {
    for await (const entry of walkTree(component.name, root, excluded)) {
      if (failure) return;
      if (!(await writeOrWait(index, `${JSON.stringify(entry)}\n`))) {
        await indexStored; // rejects with the store's reason
        throw new ComponentError(component.name, 'the file index stream closed early', true, 'IndexFailed');
      }
      if (comparison && !(await comparison.changed(entry))) continue;
      if (!(await writeOrWait(tar.stdin, `${entry.path}\0`))) {
        await verdict; // rejects with tar's reason
        throw new ComponentError(component.name, 'tar stopped reading the file list', true, 'TarFailed');
      }
    }
    await comparison?.finish();
    index.end();
    tar.stdin.end();
  })();
  for (const step of [walked, verdict, indexStored, observer.completed]) step.catch(fail);

  const finished = (async (): Promise<EngineFacts> => {
    try {
      const [, , indexRef] = await Promise.all([walked, verdict, indexStored, observer.completed]);
      if (failure) throw failure;
      const files: FilesFacts = {
        mode: base ? 'incremental' : 'full',
        fileCount,
        sourceBytes,
        deleted: comparison?.deleted ?? [],
        index: indexRef,
        ...(audit ? { auditLog: audit.facts() } : {}),
      };
      return base ? { files, dependsOn: base.setId } : { files };
    } catch (error) {
      throw fail(error);
    }
  })();
  finished.catch(() => undefined); // until the caller awaits it, a failure is reported through the stream

  return {
    stream: observer,
    finished,
    abort: () => void fail(new ComponentError(component.name, 'the dump was aborted', true, 'Aborted')),
  };
}
