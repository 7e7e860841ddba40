import { RowBatcher, type TableFormat } from './table.js';

/** JSON Lines: one object per line, streamed line by line. */
export const jsonLines: TableFormat = {
  async *read(source, options) {
    const decoder = new TextDecoder();
    const batcher = new RowBatcher(options);
    let pending = '';
    let lineNumber = 0;
    const parse = (line: string) => {
      lineNumber++;
      if (line.trim() === '') return undefined;
      let row: unknown;
      try {
        row = JSON.parse(line);
      } catch (error) {
        throw new Error(`${source.uri}: line ${lineNumber} is not valid JSON (${(error as Error).message})`);
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row)) {
        throw new Error(`${source.uri}: line ${lineNumber} is not a JSON object`);
      }
      return batcher.add(row as Record<string, unknown>);
    };
    for await (const chunk of source.stream()) {
      pending += decoder.decode(chunk, { stream: true });
      const lines = pending.split('\n');
      pending = lines.pop() ?? '';
      for (const line of lines) {
        const batch = parse(line);
        if (batch) yield batch;
      }
    }
    const batch = parse(pending + decoder.decode());
    if (batch) yield batch;
    const last = batcher.flush();
    if (last) yield last;
  },
};
