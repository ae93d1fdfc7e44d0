/** Placeholder: being written. */
import type { FilesComponent } from '../plan/schema';
import { ComponentError } from './errors';
import type { Engine } from './types';

export const filesEngine: Engine<FilesComponent> = {
  type: 'files',
  format: 'files',
  extension: 'files',
  defaultCompression: { algorithm: 'zstd', level: 3 },
  dump: async (component) => {
    throw new ComponentError(component.name, 'not implemented yet', false, 'NotImplemented');
  },
  checkArtifact: async (component) => {
    throw new ComponentError(component.name, 'not implemented yet', false, 'NotImplemented');
  },
};
