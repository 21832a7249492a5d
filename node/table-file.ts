import { join } from 'node:path';
import { readFileIfThere, replaceFileSync } from '../components/storage/atomic-file.js';
import { LookupTable } from '../bootstrap/lookup-table.js';

const FILE = 'lookup-table.json';

/** The persisted lookup table of this data directory, or null when there is none yet. */
export function loadTable(dataDir: string): LookupTable | null {
  const text = readFileIfThere(join(dataDir, FILE));
  if (text === null) return null;
  // A damaged table is not guessed around: the node refuses to start with a clear reason.
  return LookupTable.from(JSON.parse(text));
}

/** Writes the table atomically: temporary file, fsync, rename, fsync of the directory. */
export function saveTable(dataDir: string, table: LookupTable): void {
  replaceFileSync(join(dataDir, FILE), JSON.stringify(table.toData(), null, 2));
}
