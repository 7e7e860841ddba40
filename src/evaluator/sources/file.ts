import { open, stat, type FileHandle } from 'node:fs/promises';

import { deadlineMessage } from '../deadline.js';
import { seconds, sourceTimeouts, type Source, type SourceOptions } from './source.js';

const chunkBytes = 1 << 16;

/** A file system call that did not come back in time; it is still running (it cannot be cancelled). */
class StalledError extends Error {}

/**
 * A local file; `uri` is what the user wrote (file://, pvc://, configmap:// or a plain path).
 * Opening has the connect timeout and every read the idle timeout, because a PVC can be a network
 * file system whose server is gone, and then its calls never return. Nor can they be cancelled:
 * a timeout stops waiting for them, and a handle they open late is closed when it arrives.
 */
export function fileSource(path: string, uri = path, options: SourceOptions = {}): Source {
  const { connectMs, idleMs } = sourceTimeouts(options);
  const { deadline } = options;

  /** `call`, unless it takes longer than `ms` or outlives the deadline. */
  const waitFor = <T>(call: Promise<T>, ms: number, stalled: string, bytesRead?: number): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const where = bytesRead === undefined ? path : `${path}, ${bytesRead} bytes read`;
      const stop = (why: string) => settle(() => reject(new StalledError(`${uri}: ${why} (${where})`)));
      const timer = setTimeout(() => stop(stalled), ms);
      const onDeadline = () => stop(deadlineMessage(deadline!));
      const settle = (outcome: () => void) => {
        clearTimeout(timer);
        deadline?.removeEventListener('abort', onDeadline);
        outcome();
      };
      if (deadline?.aborted) return onDeadline();
      deadline?.addEventListener('abort', onDeadline, { once: true });
      call.then(
        (value) => settle(() => resolve(value)),
        (error: unknown) => settle(() => reject(error as Error)),
      );
    });

  const failure = (error: unknown): Error => {
    if (error instanceof StalledError) return error;
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? `file not found (${path})` : (error as Error).message;
    return new Error(`${uri}: ${reason}`, { cause: error });
  };
  const opening = (): Promise<FileHandle> => {
    const call = open(path, 'r');
    return waitFor(call, connectMs, `not opened within ${seconds(connectMs)}`).catch((error: unknown) => {
      if (error instanceof StalledError) call.then((late) => late.close()).catch(() => {});
      throw error;
    });
  };
  /** FileHandle.close waits for the handle's calls, so after a stalled one it closes in the background. */
  const release = async (handle: FileHandle, error: unknown) => {
    const closing = handle.close();
    if (error instanceof StalledError) closing.catch(() => {});
    else await closing;
  };

  return {
    uri,
    async size() {
      try {
        return (await waitFor(stat(path), connectMs, `not opened within ${seconds(connectMs)}`)).size;
      } catch (error) {
        throw failure(error);
      }
    },
    async *stream() {
      let handle: FileHandle;
      try {
        handle = await opening();
      } catch (error) {
        throw failure(error);
      }
      let bytes = 0;
      let thrown: unknown;
      try {
        for (;;) {
          const buffer = Buffer.allocUnsafe(chunkBytes);
          // Position null reads on from the last read, as a stream does (a FIFO has no offsets).
          const read = handle.read(buffer, 0, chunkBytes, null);
          const { bytesRead } = await waitFor(read, idleMs, `no data within ${seconds(idleMs)}`, bytes);
          if (bytesRead === 0) return;
          bytes += bytesRead;
          yield buffer.subarray(0, bytesRead);
        }
      } catch (error) {
        thrown = error;
        throw failure(error);
      } finally {
        await release(handle, thrown);
      }
    },
    async read(start, end) {
      let handle: FileHandle | undefined;
      let thrown: unknown;
      try {
        handle = await opening();
        const read = handle.read(Buffer.alloc(end - start), 0, end - start, start);
        const { bytesRead, buffer } = await waitFor(read, idleMs, `no data within ${seconds(idleMs)}`, 0);
        return buffer.subarray(0, bytesRead);
      } catch (error) {
        thrown = error;
        throw failure(error);
      } finally {
        if (handle) await release(handle, thrown);
      }
    },
  };
}

export function fileUriSource(uri: string, options: SourceOptions = {}): Source {
  return fileSource(decodeURIComponent(new URL(uri).pathname), uri, options);
}
