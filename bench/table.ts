/** Prints `rows` under `header` as aligned columns, two spaces apart (every bench's result table). */
export function printTable(header: string[], rows: string[][]): void {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  for (const row of [header, ...rows]) console.log(line(row));
}
