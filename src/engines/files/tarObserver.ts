/**
 * Watches GNU tar's output on its way to the store: tar-stream parses a copy of every chunk, and each member's
 * content goes to a sink chosen per member (the audit-log validator), without the archive ever being held.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { extract, type Extract, type Header } from 'tar-stream';
import { drained } from './backpressure';

/** One member of a tar stream, as its headers (pax or GNU long names included) describe it. */
export interface TarMember {
  path: string;
  /** The typeflag: '0' regular file, '1' hard link, '2' symlink, '5' directory... */
  type: string;
  size: number;
}

/** Receives a member's content as it passes; a returned promise holds the stream back (e.g. a gunzip behind). */
export interface TarMemberSink {
  write(chunk: Buffer): void | Promise<void>;
  end(): void | Promise<void>;
}

export class TarFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TarFormatError';
  }
}

// tar-stream names the typeflags; members keep tar's own letters, as GNU tar and the tar spec write them.
const TYPEFLAGS: Record<Header['type'], string> = {
  file: '0',
  link: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
  'contiguous-file': '7',
};

/** tar-stream's errors, in words that say what is wrong with the stream; other errors pass unchanged. */
function describeParseError(error: Error): Error {
  if (error.message === 'Unexpected end of data') return new TarFormatError('the tar stream ends in the middle of a member (truncated)');
  if (error.message.startsWith('Invalid tar header. Maybe')) return new TarFormatError('not a tar archive (header checksum mismatch)');
  if (/^(Invalid tar header|Invalid header|Header exceeds max size)/.test(error.message)) return new TarFormatError(`not a tar archive (${error.message})`);
  return error;
}

/**
 * A pass-through that tees every chunk into a tar-stream parser, waiting for whichever side is slower. The
 * stream's end waits for `beforeEnd` (the dump's verdict), so it ends only once the dump has succeeded; a
 * parse error or a failing sink destroys it.
 */
export class TarObserver extends Transform {
  /** Resolves once the whole stream was parsed and every sink has ended; rejects on any failure. */
  readonly completed: Promise<void>;
  private complete!: () => void;
  private fail!: (error: Error) => void;
  private readonly parser: Extract = extract();
  private readonly observed: Promise<void>;

  constructor(
    private readonly hooks: {
      onMember(member: TarMember): TarMemberSink | undefined;
      beforeEnd?: () => Promise<void>;
    },
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.completed = new Promise<void>((resolve, reject) => {
      this.complete = resolve;
      this.fail = reject;
    });
    this.completed.catch(() => undefined);
    this.once('error', (error) => this.fail(error));
    this.once('close', () => this.fail(new Error('the tar stream was closed before its end')));
    this.observed = this.observeMembers();
    this.observed.catch((error: Error) => this.destroy(error));
  }

  private async observeMembers(): Promise<void> {
    try {
      for await (const entry of this.parser) {
        const { name, type, size } = entry.header;
        const sink = this.hooks.onMember({ path: name.replace(/\/+$/, ''), type: TYPEFLAGS[type] ?? '?', size });
        // Every member is read to its end, sink or not: tar-stream holds the next one back until then.
        for await (const chunk of entry) await sink?.write(chunk as Buffer);
        await sink?.end();
      }
    } catch (error) {
      throw describeParseError(error as Error);
    }
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.push(chunk);
    if (this.parser.destroying || this.parser.write(chunk)) callback();
    else drained(this.parser).then(() => callback());
  }

  override _flush(callback: TransformCallback): void {
    (async () => {
      await this.hooks.beforeEnd?.();
      this.parser.end(undefined); // no final chunk (streamx's typings make the argument required)
      await this.observed;
    })().then(
      () => {
        this.complete();
        callback();
      },
      (error: Error) => callback(error),
    );
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.parser.destroy(error);
    callback(error);
  }
}
