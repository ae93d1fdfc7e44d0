/** `backup verify` for file trees: the artifact must read as tar to its end, and its audit logs must still be valid. */
import type { Readable } from 'node:stream';
import type { ComponentBackup } from '../../catalog/manifest';
import type { FilesComponent } from '../../plan/schema';
import { spawnWithInput } from '../childProcess';
import { ComponentError } from '../errors';
import { AuditFileSink, AuditLogReport } from './auditLog';
import { drained } from './backpressure';
import { pathMatcher } from './globs';
import { TarObserver } from './tarObserver';
import { tarFailureDetail } from './tarProcess';

/** A TarObserver that validates the plan's audit-log files as the artifact streams by, as the dump did. */
function auditObserver(component: FilesComponent): { observer: TarObserver; report: AuditLogReport } | undefined {
  if (!component.auditLog) return undefined;
  const isAuditFile = pathMatcher(component.auditLog.files);
  const report = new AuditLogReport(component.auditLog.requiredFields);
  const observer = new TarObserver({
    onMember: (member) =>
      (member.type === '0' || member.type === '7') && isAuditFile(member.path, false) ? new AuditFileSink(report.file(member.path), member.path.endsWith('.gz')) : undefined,
  });
  observer.on('error', () => undefined); // reported through `completed`
  observer.resume(); // the pass-through copy is not needed here
  return { observer, report };
}

/** Why the audit logs read now differ from what the backup recorded; undefined when they agree. */
function auditProblem(report: AuditLogReport, recorded: ComponentBackup | undefined): string | undefined {
  const facts = report.facts();
  const atBackup = recorded?.files?.auditLog;
  const expectedInvalid = atBackup?.invalidLineCount ?? 0;
  const first = facts.invalidLines[0];
  const example = first ? ` (first: ${first.file} line ${first.line}: ${first.reason})` : '';
  if (facts.invalidLineCount > expectedInvalid) {
    return `audit-log lines invalid: ${facts.invalidLineCount} invalid line(s), the backup recorded ${expectedInvalid}${example}`;
  }
  if (atBackup && facts.linesChecked !== atBackup.linesChecked) {
    return `audit logs changed: ${facts.linesChecked} line(s) read, the backup recorded ${atBackup.linesChecked}`;
  }
  return undefined;
}

/**
 * Reads an artifact with `tar --list`: it fails on a header checksum, a truncated member or anything that is
 * not tar. With the audit-log preset, every audit line is checked again and compared with the manifest's
 * counts. The artifact is read to its end whatever tar does, because the caller checksums the same stream.
 */
export async function checkFilesArtifact(component: FilesComponent, artifact: Readable, recorded?: ComponentBackup): Promise<void> {
  const list = spawnWithInput('tar', ['--list', '--file=-']);
  list.stdout.on('error', () => undefined); // the failure is reported through `exited`
  list.stdout.resume();
  let accepting = true;
  const stopAccepting = () => (accepting = false);
  list.stdin.once('error', stopAccepting).once('close', stopAccepting);
  const audit = auditObserver(component);
  try {
    for await (const chunk of artifact) {
      if (audit && !audit.observer.destroyed && !audit.observer.write(chunk)) await drained(audit.observer);
      if (accepting && !list.stdin.write(chunk)) await drained(list.stdin);
    }
    if (accepting) list.stdin.end();
    await list.exited;
  } catch (error) {
    list.kill();
    audit?.observer.destroy();
    throw new ComponentError(component.name, `tar --list cannot read the artifact: ${tarFailureDetail(error)}`, false, 'ArtifactUnreadable');
  }
  if (!audit) return;
  audit.observer.end();
  const parsed = await audit.observer.completed.then(
    () => undefined,
    (error: Error) => error.message,
  );
  const problem = parsed ? `audit logs cannot be read: ${parsed}` : auditProblem(audit.report, recorded);
  if (problem) throw new ComponentError(component.name, problem, false, 'AuditLogInvalid');
}
