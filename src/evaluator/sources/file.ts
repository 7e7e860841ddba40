import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';

import type { Source } from './source.js';

/** A local file; `uri` is what the user wrote (file://, pvc://, configmap:// or a plain path). */
export function fileSource(path: string, uri = path): Source {
  const failure = (error: unknown): Error => {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? `file not found (${path})` : (error as Error).message;
    return new Error(`${uri}: ${reason}`, { cause: error });
  };
  return {
    uri,
    async size() {
      try {
        return (await stat(path)).size;
      } catch (error) {
        throw failure(error);
      }
    },
    async *stream() {
      try {
        for await (const chunk of createReadStream(path, { highWaterMark: 1 << 16 })) yield chunk as Buffer;
      } catch (error) {
        throw failure(error);
      }
    },
    async read(start, end) {
      let handle;
      try {
        handle = await open(path, 'r');
        const buffer = Buffer.alloc(end - start);
        const { bytesRead } = await handle.read(buffer, 0, end - start, start);
        return buffer.subarray(0, bytesRead);
      } catch (error) {
        throw failure(error);
      } finally {
        await handle?.close();
      }
    },
  };
}

export function fileUriSource(uri: string): Source {
  return fileSource(decodeURIComponent(new URL(uri).pathname), uri);
}
