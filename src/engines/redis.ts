/** Placeholder: being written. */
import type { RedisComponent } from '../plan/schema';
import { ComponentError } from './errors';
import type { Engine } from './types';

export const redisEngine: Engine<RedisComponent> = {
  type: 'redis',
  format: 'redis',
  extension: 'redis',
  defaultCompression: { algorithm: 'zstd', level: 3 },
  dump: async (component) => {
    throw new ComponentError(component.name, 'not implemented yet', false, 'NotImplemented');
  },
  checkArtifact: async (component) => {
    throw new ComponentError(component.name, 'not implemented yet', false, 'NotImplemented');
  },
};
