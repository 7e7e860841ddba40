import { RowBatcher, type TableFormat } from './table.js';

/**
 * RFC 4180 CSV with a header row, parsed as it streams: quoted fields may hold commas, doubled
 * quotes and newlines. Cells that all parse as numbers in a batch make a numeric column.
 */
export const csv: TableFormat = {
  async *read(source, options) {
    const decoder = new TextDecoder();
    let header: string[] | undefined;
    const batcher = new RowBatcher(options, true);
    let field = '';
    let record: string[] = [];
    let quoted = false;
    let afterQuote = false;

    const endRecord = () => {
      record.push(field);
      field = '';
      const cells = record;
      record = [];
      if (cells.length === 1 && cells[0] === '') return undefined; // blank line
      if (!header) {
        header = cells.map((name) => name.trim());
        return undefined;
      }
      if (cells.length !== header.length) {
        throw new Error(`${source.uri}: a row has ${cells.length} fields, the header has ${header.length}`);
      }
      const row: Record<string, string> = {};
      header.forEach((name, i) => (row[name] = cells[i] ?? ''));
      return batcher.add(row);
    };

    for await (const chunk of source.stream()) {
      const text = decoder.decode(chunk, { stream: true });
      for (let i = 0; i < text.length; i++) {
        const char = text[i] as string;
        if (quoted) {
          if (char === '"') {
            quoted = false;
            afterQuote = true;
          } else field += char;
        } else if (char === '"') {
          if (afterQuote) field += '"'; // "" inside a quoted field
          quoted = true;
          afterQuote = false;
        } else {
          afterQuote = false;
          if (char === ',') {
            record.push(field);
            field = '';
          } else if (char === '\n') {
            const batch = endRecord();
            if (batch) yield batch;
          } else if (char !== '\r') field += char;
        }
      }
    }
    if (field !== '' || record.length > 0) {
      const batch = endRecord();
      if (batch) yield batch;
    }
    const last = batcher.flush();
    if (last) yield last;
  },
};
