/** Waiting on a writable's back-pressure without hanging when it is destroyed instead. */
import type { Writable } from 'node:stream';

/** What `drained` needs: Node's writables and tar-stream's (streamx) alike. */
interface DrainingWritable {
  on(event: 'drain' | 'close', listener: () => void): unknown;
  off(event: 'drain' | 'close', listener: () => void): unknown;
}

/** Resolves once a writable can take more, or is gone (its error is reported elsewhere). */
export function drained(stream: DrainingWritable): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}

/** Writes, waiting while the reader is behind; false when the stream is gone (its owner reports why). */
export async function writeOrWait(stream: Writable, data: string): Promise<boolean> {
  if (stream.destroyed || stream.writableEnded) return false;
  if (!stream.write(data)) await drained(stream);
  return !stream.destroyed;
}
