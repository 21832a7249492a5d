import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  EPOCHS_FILE,
  scanWal,
  sealEpochs,
  sealWalEntry,
  sealWalSegmentHeader,
  segmentFile,
} from '../../components/storage/wal-files.js';

// A log written before segments had headers (and a log-id file) is refused with a message that
// says what to do, not taken for damage: damage makes an empty non-voter, and on every node of a
// cluster upgraded at once that would leave no voter (issue 14, item 7: migration).
describe('a WAL written by an earlier zabkv', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });
  /** A store directory with its epochs file and segment 0 holding `segment`. */
  const directory = (segment: Uint8Array): string => {
    const dir = mkdtempSync(join(tmpdir(), 'zabkv-wal-old-'));
    dirs.push(dir);
    writeFileSync(
      join(dir, EPOCHS_FILE),
      sealEpochs({ acceptedEpoch: 1, currentEpoch: 1, voter: true, base: 0 }),
    );
    writeFileSync(join(dir, segmentFile(0)), segment);
    return dir;
  };
  const entries = Buffer.concat(
    [1, 2, 3].map((zxid) => sealWalEntry({ zxid, payload: new Uint8Array([zxid]) })),
  );

  it('is refused, naming the directory and what to do', () => {
    const dir = directory(entries);
    expect(() => scanWal(dir)).toThrow(/written by an earlier zabkv.*re-syncs from its group/s);
  });

  it('is told apart from a store of this version that lost its log-id (damage)', () => {
    // Its segments begin with a header: the log-id file was lost, which is damage.
    const header = sealWalSegmentHeader({ logId: 'feedc0de', n: 0, previousZxid: -1 });
    const dir = directory(Buffer.concat([header, entries]));
    expect(scanWal(dir).image.damage).toBe('corrupt');
  });
});
