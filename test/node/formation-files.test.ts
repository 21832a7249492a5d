import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { nodeId } from '../../components/network/node-id.js';
import {
  checkInNonce,
  forgetCheckInNonce,
  loadFormation,
  saveFormation,
} from '../../node/formation-files.js';

const dirs: string[] = [];
const directory = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'zabkv-formation-'));
  dirs.push(dir);
  return dir;
};
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe('formation files', () => {
  it('keeps a data directory’s check-in nonce across starts; a wiped one draws a new', () => {
    const dir = directory();
    const first = checkInNonce(dir);
    expect(checkInNonce(dir)).toBe(first);
    expect(checkInNonce(directory())).not.toBe(first);
    // Once the table is kept, the nonce goes: a later wipe of the table checks in anew.
    forgetCheckInNonce(dir);
    expect(checkInNonce(dir)).not.toBe(first);
  });

  it('refuses a damaged nonce file with what to do', () => {
    const dir = directory();
    writeFileSync(join(dir, 'check-in-nonce'), 'nonsense');
    expect(() => checkInNonce(dir)).toThrow(/damaged: delete it/);
  });

  it('keeps the check-ins a cluster formed with', () => {
    const dir = directory();
    expect(loadFormation(dir)).toBeNull();
    const formation = new Map([
      [nodeId(1), 11],
      [nodeId(2), 22],
    ]);
    saveFormation(dir, formation);
    expect(loadFormation(dir)).toEqual(formation);
    writeFileSync(join(dir, 'formation.json'), '[[1, "x"]]');
    expect(() => loadFormation(dir)).toThrow(/damaged/);
  });
});
