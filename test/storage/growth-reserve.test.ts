import {
  appendFileSync,
  mkdtempSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { spawnSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FallocateHelper } from '../../components/storage/fallocate-helper.js';
import {
  FallocatedReserve,
  GrowthGate,
  type GrowthReserve,
} from '../../components/storage/growth-reserve.js';

const MIB = 2 ** 20;

describe('FallocatedReserve (fallocate --keep-size past the file)', () => {
  const dirs: string[] = [];
  const reserves: FallocatedReserve[] = [];
  afterEach(() => {
    for (const reserve of reserves.splice(0)) reserve.close();
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  function reserveOf(path: string, onUnsupported: (reason: string) => void): FallocatedReserve {
    const reserve = new FallocatedReserve(path, onUnsupported);
    reserves.push(reserve);
    return reserve;
  }

  function file(): string {
    const dir = mkdtempSync(join(tmpdir(), 'zabkv-reserve-'));
    dirs.push(dir);
    const path = join(dir, 'data.mdb');
    writeFileSync(path, Buffer.alloc(8192));
    return path;
  }

  it('holds blocks past the end without changing the size, and counts growth against them', async () => {
    const path = file();
    const reserve = reserveOf(path, (reason) => {
      throw new Error(`unexpected: ${reason}`);
    });
    expect(reserve.available()).toBeLessThanOrEqual(0);
    expect(await reserve.ensure(MIB)).toBe(true);
    const stats = statSync(path);
    expect(stats.size).toBe(8192);
    expect(stats.blocks * 512).toBeGreaterThanOrEqual(8192 + MIB);
    expect(reserve.available()).toBe(MIB);
    appendFileSync(path, Buffer.alloc(4096, 1));
    expect(reserve.available()).toBe(MIB - 4096);
  });

  it('one fallocate at a time: a second ask while one runs shares it', async () => {
    const reserve = reserveOf(file(), () => {});
    const [first, second] = [reserve.ensure(MIB), reserve.ensure(2 * MIB)];
    expect(second).toBe(first);
    expect(await second).toBe(true);
    expect(reserve.available()).toBe(MIB);
    expect(await reserve.ensure(2 * MIB)).toBe(true);
    expect(reserve.available()).toBe(2 * MIB);
  });

  it('holds a sixteenth of a large file ahead however little is asked', async () => {
    const path = file();
    truncateSync(path, 64 * MIB); // sparse: only the size matters here
    const reserve = reserveOf(path, () => {});
    expect(await reserve.ensure(4096)).toBe(true);
    expect(reserve.available()).toBe(4 * MIB);
  });

  it('where fallocate cannot work, says so once and stops counting', async () => {
    const reasons: string[] = [];
    const reserve = reserveOf('/dev/null', (reason) => reasons.push(reason));
    expect(await reserve.ensure(MIB)).toBe(true);
    expect(reasons).toHaveLength(1);
    expect(reserve.available()).toBe(Infinity);
  });
});

describe('FallocateHelper (one sh for every fallocate)', () => {
  it('answers requests in order, each with its own status, and a closed helper owes nothing', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'zabkv-helper-'));
    const helper = new FallocateHelper(30_000);
    try {
      const path = join(dir, 'data.mdb');
      writeFileSync(path, Buffer.alloc(4096));
      const answers = await Promise.all([
        helper.run(path, 4096, MIB),
        helper.run('/dev/null', 0, MIB),
        helper.run(path, 4096, 2 * MIB),
        helper.run(`${path}\nx`, 0, MIB),
      ]);
      expect(answers.map((answer) => answer.kind === 'ran' && answer.status === 0)).toEqual([
        true,
        false,
        true,
        false,
      ]);
      expect(answers[1]).toMatchObject({
        kind: 'ran',
        message: expect.stringMatching(/fallocate/),
      });
      expect(statSync(path).blocks * 512).toBeGreaterThanOrEqual(4096 + 2 * MIB);
      helper.close();
      expect(await helper.run(path, 4096, MIB)).toMatchObject({ kind: 'ran', status: 0 });
    } finally {
      helper.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('keeps an otherwise idle process alive while a request is under way, and only then', () => {
    const dir = mkdtempSync(join(tmpdir(), 'zabkv-helper-'));
    const path = join(dir, 'data.mdb');
    writeFileSync(path, Buffer.alloc(4096));
    // A process with nothing else to do (the append-forever fixture waiting for its first
    // batch did exactly this): it must hear the answer, then exit, the idle helper not holding it.
    const script = [
      `import { FallocateHelper } from '${join(process.cwd(), 'dist/components/storage/fallocate-helper.js')}';`,
      'const helper = new FallocateHelper(30_000);',
      `helper.run(${JSON.stringify(path)}, 4096, 4 * 2 ** 20).then((r) => console.log(r.kind, r.status));`,
    ].join('\n');
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(child.stderr).toBe('');
    expect(child.stdout).toBe('ran 0\n');
    expect(child.status).toBe(0);
    rmSync(dir, { recursive: true, force: true });
  });
});

describe('GrowthGate.room', () => {
  const reserveOf = (available: number): GrowthReserve => ({
    available: () => available,
    ensure: () => Promise.resolve(true),
    close: () => {},
  });

  it('counts the blocks held as room beside the free space statfs reports (which counts them used)', () => {
    expect(new GrowthGate(reserveOf(5_000)).room(12_000)).toBe(17_000);
    expect(new GrowthGate(reserveOf(0)).room(12_000)).toBe(12_000);
  });

  it('is the free space alone where no blocks can be held', () => {
    expect(new GrowthGate(reserveOf(Infinity)).room(12_000)).toBe(12_000);
  });
});
