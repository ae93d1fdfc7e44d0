/**
 * Differential incrementals: each one is taken against the newest full and holds every entry that is new or
 * changed since it (type, size, mtime, ctime or mode differ); `deleted` lists the full's paths that are gone.
 */
import type { ArtifactRef, ComponentBackup, FilesFacts, Manifest } from '../../catalog/manifest';
import type { FilesComponent } from '../../plan/schema';
import type { BackupStore } from '../../stores/types';
import type { Keyring } from '../../encryption';
import { readIndex } from './fileIndex';
import { comparePaths, type TreeEntry } from './sourceTree';

/** The full an incremental is taken against. */
export interface IncrementalBase {
  setId: string;
  index: ArtifactRef;
}

/**
 * The newest full of this component, unless `fullEvery` incrementals were taken since it (or there is none):
 * then undefined, and the dump is a full.
 */
export function chooseBase(component: Pick<FilesComponent, 'name' | 'fullEvery'>, sets: readonly Manifest[]): IncrementalBase | undefined {
  const backups = sets
    .map((set) => ({ setId: set.setId, backup: set.components.find((candidate) => candidate.name === component.name && candidate.type === 'files') }))
    .filter((entry): entry is { setId: string; backup: ComponentBackup & { files: FilesFacts } } => entry.backup?.files !== undefined)
    .sort((a, b) => (a.setId < b.setId ? -1 : a.setId > b.setId ? 1 : 0));
  let fullAt = -1;
  for (let i = backups.length - 1; i >= 0 && fullAt === -1; i--) if (backups[i].backup.files.mode === 'full') fullAt = i;
  if (fullAt === -1) return undefined;
  const full = backups[fullAt];
  const since = backups.slice(fullAt + 1).filter(({ backup }) => backup.files.mode === 'incremental' && backup.dependsOn === full.setId).length;
  if (since >= component.fullEvery) return undefined;
  return { setId: full.setId, index: full.backup.files.index };
}

function entryChanged(before: TreeEntry, now: TreeEntry): boolean {
  return before.type !== now.type || before.size !== now.size || before.mtimeMs !== now.mtimeMs || before.ctimeMs !== now.ctimeMs || before.mode !== now.mode;
}

/**
 * Merges the walk with the base's index, both in comparePaths order: constant memory however large the tree.
 * Collects the base's paths that are gone; a gone directory stands for everything under it.
 */
export class BaseComparison {
  readonly deleted: string[] = [];
  private deletedDir: string | undefined;
  private current: TreeEntry | undefined;
  private readonly entries: AsyncGenerator<TreeEntry>;

  private constructor(store: BackupStore, ref: ArtifactRef, keyring: Keyring) {
    this.entries = readIndex(store, ref, keyring);
  }

  static async open(store: BackupStore, ref: ArtifactRef, keyring: Keyring): Promise<BaseComparison> {
    const comparison = new BaseComparison(store, ref, keyring);
    await comparison.advance();
    return comparison;
  }

  /** Whether the entry belongs in the incremental: new, or changed since the base. */
  async changed(entry: TreeEntry): Promise<boolean> {
    while (this.current && comparePaths(this.current.path, entry.path) < 0) {
      this.gone(this.current);
      await this.advance();
    }
    if (!this.current || this.current.path !== entry.path) return true;
    const before = this.current;
    await this.advance();
    // A path that changed type is deleted first on restore (tar cannot put a file where a directory is).
    if (before.type !== entry.type) this.gone(before);
    return entryChanged(before, entry);
  }

  async finish(): Promise<void> {
    while (this.current) {
      this.gone(this.current);
      await this.advance();
    }
  }

  close(): void {
    void this.entries.return(undefined).catch(() => undefined);
  }

  private async advance(): Promise<void> {
    const next = await this.entries.next();
    this.current = next.done ? undefined : next.value;
  }

  private gone(entry: TreeEntry): void {
    if (this.deletedDir !== undefined && entry.path.startsWith(`${this.deletedDir}/`)) return;
    this.deleted.push(entry.path);
    this.deletedDir = entry.type === 'dir' ? entry.path : undefined;
  }
}
