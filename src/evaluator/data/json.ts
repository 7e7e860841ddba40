import { RowBatcher, type TableFormat } from './table.js';

/**
 * A JSON array of objects (as vega-datasets ships them), streamed: a small scanner finds where
 * each top-level element ends, so only one element's text is held at a time.
 */
export const jsonArray: TableFormat = {
  async *read(source, options) {
    const decoder = new TextDecoder();
    const batcher = new RowBatcher(options);
    let started = false;
    let depth = 0;
    let inString = false;
    let escaped = false;
    let element = '';
    let elements = 0;

    const finish = (): ReturnType<RowBatcher['add']> => {
      const text = element.trim();
      element = '';
      if (text === '') return undefined;
      elements++;
      let row: unknown;
      try {
        row = JSON.parse(text);
      } catch (error) {
        throw new Error(`${source.uri}: element ${elements} is not valid JSON (${(error as Error).message})`);
      }
      if (typeof row !== 'object' || row === null || Array.isArray(row)) {
        throw new Error(`${source.uri}: element ${elements} is not a JSON object`);
      }
      return batcher.add(row as Record<string, unknown>);
    };

    for await (const chunk of source.stream()) {
      const text = decoder.decode(chunk, { stream: true });
      let start = 0;
      for (let i = 0; i < text.length; i++) {
        const char = text[i];
        if (!started) {
          if (char === '[') {
            started = true;
            start = i + 1;
          } else if (!/\s/.test(char ?? '')) {
            throw new Error(`${source.uri}: expected a JSON array of objects`);
          }
          continue;
        }
        if (inString) {
          if (escaped) escaped = false;
          else if (char === '\\') escaped = true;
          else if (char === '"') inString = false;
        } else if (char === '"') inString = true;
        else if (char === '{' || char === '[') depth++;
        else if (char === '}' || char === ']') {
          if (depth === 0) {
            // the closing bracket of the array
            element += text.slice(start, i);
            start = i + 1;
            const batch = finish();
            if (batch) yield batch;
            started = false;
            continue;
          }
          depth--;
        } else if (char === ',' && depth === 0) {
          element += text.slice(start, i);
          start = i + 1;
          const batch = finish();
          if (batch) yield batch;
        }
      }
      if (started) element += text.slice(start);
    }
    const last = batcher.flush();
    if (last) yield last;
  },
};
