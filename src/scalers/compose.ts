/**
 * Docker Compose services: `docker compose stop` and `start`, remembering which of the target's services
 * were running (a service stopped on purpose stays stopped after the recovery).
 */
import { z } from 'zod';
import { durationMs } from '../plan/schema';
import { describeOutcome, runProgram, type ProcessOutcome } from './processes';
import { ScalerBase } from './base';
import { type ComposeScalingTarget, type ScaledState } from './schema';
import { ScalerError, type ScaleDownOptions, type Scaler, type WaitOptions } from './types';
import { errorMessage, pollUntil, rememberedState } from './waiting';

/** One container in `docker compose ps --format json` (only the fields used; Compose prints many more). */
const composeContainerSchema = z.object({
  Service: z.string(),
  State: z.string(),
  Health: z.string().optional(),
});
type ComposeContainer = z.infer<typeof composeContainerSchema>;

// Docker's answers that no retry can change: the plan or the worker's setup must be fixed.
const PERMANENT_DOCKER_ERRORS = [
  /no such service/i,
  /is not a docker command/i,
  /unknown (shorthand )?flag/i,
  /permission denied/i,
  /no configuration file provided/i,
  /no such file or directory/i,
];

/**
 * Parses `docker compose ps --format json`: one JSON object per line since Compose 2.21, one JSON array
 * before that.
 */
export function parseComposePs(stdout: string): ComposeContainer[] {
  const text = stdout.trim();
  if (text === '') return [];
  const values: unknown[] = text.startsWith('[') ? (JSON.parse(text) as unknown[]) : text.split('\n').filter((line) => line.trim() !== '').map((line) => JSON.parse(line) as unknown);
  return values.map((value) => composeContainerSchema.parse(value));
}

/** Running, or restarting by its restart policy: either way it is meant to run. */
const isMeantToRun = (container: ComposeContainer) => container.State === 'running' || container.State === 'restarting';
/** Running and, where the service has a health check, healthy. */
const isReady = (container: ComposeContainer) => container.State === 'running' && (container.Health === undefined || container.Health === '' || container.Health === 'healthy');

export class ComposeScaler extends ScalerBase<ComposeScalingTarget> implements Scaler {
  readonly type = 'compose';

  /** `docker compose [-p project] [-f file] <command...>`. */
  composeArgs(...command: string[]): string[] {
    const { project, file } = this.target;
    return ['compose', ...(project ? ['-p', project] : []), ...(file ? ['-f', file] : []), ...command];
  }

  async scaleDown(options: ScaleDownOptions = {}): Promise<ScaledState> {
    let state: Extract<ScaledState, { type: 'compose' }>;
    if (options.remembered) state = rememberedState(this, options.remembered);
    else {
      const containers = await this.ps(options.signal);
      const running = this.target.services.filter((service) => containers.some((c) => c.Service === service && isMeantToRun(c)));
      state = { type: 'compose', target: this.describe(), running };
    }
    options.onRecorded?.(state);
    // Every named service, not only the remembered ones: one started since must not write during the restore.
    await this.docker(['stop', ...this.target.services], options.signal);
    const awaited = await pollUntil(async () => {
      const still = (await this.ps(options.signal)).filter((c) => this.target.services.includes(c.Service) && isMeantToRun(c));
      return still.length === 0 ? undefined : `${still.map((c) => `${c.Service} is ${c.State}`).join(', ')}`;
    }, this.waitOptions(options));
    if (awaited !== undefined) {
      throw new ScalerError(this.describe(), `still running after "docker compose stop" and ${this.target.readyTimeout}: ${awaited}`, true, 'StillRunning');
    }
    return state;
  }

  async scaleUp(previous: ScaledState): Promise<void> {
    const state = rememberedState(this, previous);
    if (state.running.length === 0) return;
    await this.docker(['start', ...state.running]);
  }

  async waitReady(previous: ScaledState, options: WaitOptions = {}): Promise<void> {
    const state = rememberedState(this, previous);
    if (state.running.length === 0) return;
    const awaited = await pollUntil(async () => {
      const containers = await this.ps(options.signal);
      const waiting = state.running.flatMap((service) => {
        const own = containers.filter((c) => c.Service === service);
        if (own.length === 0) return [`${service} has no running container`];
        return own.filter((c) => !isReady(c)).map((c) => `${service} is ${c.State}${c.Health ? ` (${c.Health})` : ''}`);
      });
      return waiting.length === 0 ? undefined : waiting.join(', ');
    }, this.waitOptions(options));
    if (awaited !== undefined) {
      throw new ScalerError(this.describe(), `not ready after ${this.target.readyTimeout}: ${awaited}; check \`docker compose logs\`, or raise readyTimeout`, true, 'NotReady');
    }
  }


  /** The target's containers that run (ps lists running ones only). */
  private async ps(signal?: AbortSignal): Promise<ComposeContainer[]> {
    const outcome = await this.docker(['ps', '--format', 'json', ...this.target.services], signal);
    try {
      return parseComposePs(outcome.stdout);
    } catch (error) {
      throw new ScalerError(this.describe(), `cannot read the output of "docker compose ps --format json" (${errorMessage(error)}): ${outcome.stdout.slice(0, 300)}`, false, 'UnexpectedOutput');
    }
  }

  private async docker(command: string[], signal?: AbortSignal): Promise<ProcessOutcome> {
    const args = this.composeArgs(...command);
    const commandLine = `docker ${args.join(' ')}`;
    let outcome: ProcessOutcome;
    try {
      outcome = await runProgram('docker', args, { env: this.options.env, timeoutMs: durationMs(this.target.readyTimeout), signal });
    } catch (error) {
      signal?.throwIfAborted();
      const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
      throw new ScalerError(
        this.describe(),
        missing ? "`docker` is not on the worker's PATH: install Docker's CLI with the compose plugin where the worker runs" : `cannot run ${commandLine}: ${errorMessage(error)}`,
        false,
        missing ? 'DockerMissing' : 'DockerFailed',
      );
    }
    if (outcome.exitCode === 0) return outcome;
    signal?.throwIfAborted();
    const permanent = PERMANENT_DOCKER_ERRORS.some((pattern) => pattern.test(outcome.outputTail));
    const output = outcome.outputTail ? `: ${outcome.outputTail}` : ' (no output)';
    throw new ScalerError(this.describe(), `${commandLine} ${describeOutcome(outcome, this.target.readyTimeout)}${output}`, !permanent, 'DockerFailed');
  }
}
