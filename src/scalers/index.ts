/** The scaler registry: one entry per scaling target type. */
import { CommandScaler } from './command';
import { ComposeScaler } from './compose';
import { KubernetesScaler } from './kubernetes';
import type { ScalingTarget } from './schema';
import type { Scaler, ScalerOptions } from './types';

const scalers: { [T in ScalingTarget['type']]: (target: Extract<ScalingTarget, { type: T }>, options: ScalerOptions) => Scaler } = {
  kubernetes: (target, options) => new KubernetesScaler(target, options),
  compose: (target, options) => new ComposeScaler(target, options),
  command: (target, options) => new CommandScaler(target, options),
};

/** The scaler for a plan's scaling target (already parsed by scalingTargetSchema, so defaults are filled). */
export function createScaler(target: ScalingTarget, options: ScalerOptions = {}): Scaler {
  const create = scalers[target.type] as (target: ScalingTarget, options: ScalerOptions) => Scaler;
  return create(target, options);
}

export { CommandScaler } from './command';
export { ComposeScaler } from './compose';
export { KubernetesScaler } from './kubernetes';
export {
  describeScalingTarget,
  scaledStateSchema,
  scalingSchema,
  scalingTargetSchema,
  type CommandScalingTarget,
  type ComposeScalingTarget,
  type KubernetesScalingTarget,
  type ScaledState,
  type ScalingTarget,
  type ScalingTargetInput,
} from './schema';
export { ScalerError, type ScaleDownOptions, type Scaler, type ScalerOptions, type WaitOptions } from './types';
