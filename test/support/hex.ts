/** Parses hex dumps as printed in shared/reference (optional `0000  ` offsets, `|` separators, comments after two spaces of text). */
export function hex(dump: string): Buffer {
  const bytes: number[] = [];
  for (const rawLine of dump.split('\n')) {
    const line = rawLine.replace(/^\s*[0-9a-f]{4}\s{2}/i, '').replace(/\|/g, ' ');
    for (const tok of line.trim().split(/\s+/)) {
      if (/^[0-9a-f]{2}$/i.test(tok)) bytes.push(Number.parseInt(tok, 16));
      else if (tok !== '') break; // the rest of the line is commentary
    }
  }
  return Buffer.from(bytes);
}
