/** Placeholder: being written. */
import type { HttpComponent } from '../plan/schema';
import { ComponentError } from './errors';
import type { Engine } from './types';

export const httpEngine: Engine<HttpComponent> = {
  type: 'http',
  format: 'http',
  extension: 'http',
  defaultCompression: { algorithm: 'zstd', level: 3 },
  dump: async (component) => {
    throw new ComponentError(component.name, 'not implemented yet', false, 'NotImplemented');
  },
  checkArtifact: async (component) => {
    throw new ComponentError(component.name, 'not implemented yet', false, 'NotImplemented');
  },
};
