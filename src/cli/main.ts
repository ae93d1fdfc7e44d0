#!/usr/bin/env node
/** The `lifeboat` command. Exit codes: 0 success, 1 the operation failed, 2 bad input (nothing changed). */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { Command, CommanderError } from 'commander';
import { EXIT, OperationFailed, UsageError } from './errors';

// On Node 20 the AWS SDK prints an eight-line notice that its releases after January 2027 need Node 22. The
// SDK's version is fixed by package-lock.json, so the notice concerns upgrading Lifeboat, not the command being
// run; it is kept out of every command's output (the README's requirements say when Node 22 will be needed).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

type Register = (program: Command) => void;

/**
 * Each module that registers commands, with the top-level names it registers or extends, in help order. Only
 * the modules of the command being run are loaded: the Temporal client, AWS SDK, Kubernetes client and pg take seconds
 * to load together on a busy machine, and `--version` or `backup run` need few or none of them. Help, no
 * command, or a name missing here loads them all (so a command left out of this table still works).
 */
const COMMAND_MODULES: Array<{ names: string[]; load: () => Promise<Register> }> = [
  // `plan apply` lives in the plan module but loads the schedule module itself, when it runs.
  { names: ['plan'], load: async () => (await import('./commands/plan')).registerPlanCommands },
  { names: ['schedule', 'status'], load: async () => (await import('./commands/schedule')).registerScheduleCommands },
  { names: ['backup', 'backups'], load: async () => (await import('./commands/backup')).registerBackupCommands },
  { names: ['worker'], load: async () => (await import('./commands/worker')).registerWorkerCommand },
  { names: ['prune'], load: async () => (await import('./commands/prune')).registerPruneCommand },
  { names: ['restore'], load: async () => (await import('./commands/restore')).registerRestoreCommands },
  { names: ['up'], load: async () => (await import('./commands/up')).registerUpCommand },
  { names: ['store'], load: async () => (await import('./commands/store')).registerStoreCommands },
  { names: ['drill', 'drills'], load: async () => (await import('./commands/drill')).registerDrillCommands },
  { names: ['doctor'], load: async () => (await import('./commands/doctor')).registerDoctorCommand },
  { names: ['codec-server'], load: async () => (await import('./commands/codecServer')).registerCodecServerCommand },
  { names: ['s3-versions'], load: async () => (await import('./commands/s3Versions')).registerS3VersionsCommands },
];

/** The modules `argv` needs: none for a bare --version, those registering its command (in table order), all otherwise. */
function modulesFor(argv: string[]): typeof COMMAND_MODULES {
  const args = argv.slice(2);
  const command = args.find((arg) => !arg.startsWith('-'));
  if (command === undefined) return args.length > 0 && args.every((arg) => arg === '--version' || arg === '-V') ? [] : COMMAND_MODULES;
  const owners = COMMAND_MODULES.filter((module) => module.names.includes(command));
  return owners.length > 0 ? owners : COMMAND_MODULES;
}

function packageVersion(): string {
  const manifest = JSON.parse(readFileSync(path.resolve(__dirname, '..', '..', '..', 'package.json'), 'utf8')) as { version: string };
  return manifest.version;
}

async function buildProgram(argv: string[]): Promise<Command> {
  const program = new Command('lifeboat')
    .description('Backup and disaster recovery as durable Temporal workflows')
    .version(packageVersion())
    .exitOverride()
    .showHelpAfterError('(run with --help for usage)');
  const registers = await Promise.all(modulesFor(argv).map((module) => module.load()));
  for (const register of registers) register(program);
  // Subcommands inherit the override so that usage errors exit 2, not commander's default 1.
  program.commands.forEach(function inherit(command: Command) {
    command.exitOverride();
    command.commands.forEach(inherit);
  });
  return program;
}

/**
 * Errors whose message already says what to fix, printed without a stack: the store's (bucket, credentials,
 * region, an unreachable endpoint) and Temporal's HTTP API refusing a call. Matched by name so that reporting
 * them need not load the AWS SDK or the HTTP client.
 */
const SELF_EXPLAINING_ERRORS = new Set(['StoreConfigurationError', 'BucketNotFoundError', 'StoreCredentialsError', 'StoreAccessDeniedError', 'ObjectLockedError', 'StoreUnreachableError', 'TemporalHttpError']);

async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version exit 0; help shown for a missing subcommand and every other commander error are usage errors it already printed.
      return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    }
    if (error instanceof UsageError || error instanceof OperationFailed) {
      console.error(`error: ${error.message}`);
      return error instanceof UsageError ? EXIT.badInput : EXIT.failed;
    }
    // The other error types are loaded only now, the light ones first (a bad plan need not load the Temporal client).
    const [{ PlanError }, { KeyMaterialError }, { TemporalUnreachableError }] = await Promise.all([import('../plan/load'), import('../encryption/keys'), import('../temporal/settings')]);
    if (error instanceof PlanError || error instanceof KeyMaterialError) {
      console.error(`error: ${error.message}`);
      return EXIT.badInput;
    }
    if (error instanceof TemporalUnreachableError || (error instanceof Error && SELF_EXPLAINING_ERRORS.has(error.name))) {
      console.error(`error: ${error.message}`);
      return EXIT.failed;
    }
    const { WorkflowNotFoundError } = await import('@temporalio/client');
    if (error instanceof WorkflowNotFoundError) {
      console.error(`error: no workflow ${error.workflowId} in this namespace: check the id (e.g. \`temporal workflow list\`) and TEMPORAL_NAMESPACE`);
      return EXIT.badInput;
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
