#!/usr/bin/env node
/** The `lifeboat` command. Exit codes: 0 success, 1 the operation failed, 2 bad input (nothing changed). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import { Command, CommanderError } from 'commander';
import { PlanError } from '../plan/load';
import { TemporalUnreachableError } from '../temporal/connection';
import { registerBackupCommands } from './commands/backup';
import { registerPlanCommands } from './commands/plan';
import { registerPruneCommand } from './commands/prune';
import { registerRestoreCommands } from './commands/restore';
import { registerS3VersionsCommands } from './commands/s3Versions';
import { registerScheduleCommands } from './commands/schedule';
import { registerStoreCommands } from './commands/store';
import { registerUpCommand } from './commands/up';
import { registerWorkerCommand } from './commands/worker';
import { registerDrillCommands } from './commands/drill';
import { registerDoctorCommand } from './commands/doctor';
import { registerCodecServerCommand } from './commands/codecServer';
import { KeyMaterialError } from '../encryption/keys';
import { EXIT, OperationFailed, UsageError } from './errors';

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

function buildProgram(): Command {
  const program = new Command('lifeboat')
    .description('Backup and disaster recovery as durable Temporal workflows')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  registerPlanCommands(program);
  registerScheduleCommands(program);
  registerBackupCommands(program);
  registerWorkerCommand(program);
  registerPruneCommand(program);
  registerRestoreCommands(program);
  registerUpCommand(program);
  registerStoreCommands(program);
  registerDrillCommands(program);
  registerDoctorCommand(program);
  registerCodecServerCommand(program);
  registerS3VersionsCommands(program);
  // Subcommands inherit the override so that usage errors exit 2, not commander's default 1.
  program.commands.forEach(function inherit(command: Command) {
    command.exitOverride();
    command.commands.forEach(inherit);
  });
  return program;
}

async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; help shown for a missing subcommand and every other commander error are usage errors it already printed.
      return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (error instanceof WorkflowNotFoundError) {
      console.error(`error: no workflow ${error.workflowId} in this namespace: check the id (e.g. \`temporal workflow list\`) and TEMPORAL_NAMESPACE`);
      return EXIT.badInput;
    }
    if (error instanceof PlanError || error instanceof UsageError || error instanceof KeyMaterialError) {
      console.error(`error: ${error.message}`);
      return EXIT.badInput;
    }
    if (error instanceof OperationFailed || error instanceof TemporalUnreachableError) {
      console.error(`error: ${error.message}`);
      return EXIT.failed;
    }
    // Unexpected: the whole chain of causes (gRPC errors wrap the server's reason), then the stack.
    const causes: string[] = [];
    for (let cause = (error as Error).cause as Error | undefined; cause; cause = cause.cause as Error | undefined) causes.push(cause.message);
    console.error(`error: ${(error as Error).message ?? String(error)}${causes.map((cause) => `\n  caused by: ${cause}`).join('')}\n${(error as Error).stack ?? ''}`);
    return EXIT.failed;
  }
}

main(process.argv).then((code) => {
  process.exitCode = code;
});
