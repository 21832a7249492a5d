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
import {
  FallocateHelper,
  type FallocateResult,
} from '../../components/storage/fallocate-helper.js';
import {
  FallocatedReserve,
  GrowthGate,
  type FallocateRunner,
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

/** fallocate as the disk answers it: `answer` says what each request comes to. */
class ScriptedFallocate implements FallocateRunner {
  readonly lengths: number[] = [];

  constructor(private readonly answer: (length: number) => FallocateResult) {}

  run(_path: string, _offset: number, length: number): Promise<FallocateResult> {
    this.lengths.push(length);
    return Promise.resolve(this.answer(length));
  }

  close(): void {}
}

const ran = (status: number, message = ''): FallocateResult => ({ kind: 'ran', status, message });
const failed = (error: string): FallocateResult => ran(1, `fallocate: fallocate failed: ${error}`);

describe('FallocatedReserve when fallocate fails', () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
  });

  /** A reserve on a sparse file of `size` bytes whose fallocates `answer` answers. */
  function scripted(answer: (length: number) => FallocateResult, size = 64 * MIB) {
    const dir = mkdtempSync(join(tmpdir(), 'zabkv-reserve-'));
    dirs.push(dir);
    const path = join(dir, 'data.mdb');
    writeFileSync(path, '');
    truncateSync(path, size);
    const unsupported: string[] = [];
    const fallocate = new ScriptedFallocate(answer);
    const reserve = new FallocatedReserve(path, (reason) => unsupported.push(reason), fallocate);
    return { reserve, fallocate, unsupported };
  }

  it('holds what the transaction needs where the disk has no room for a sixteenth ahead', async () => {
    // 4 MiB would be held ahead of a 64 MiB file; the disk has 2.
    const { reserve, fallocate } = scripted((length) =>
      length <= 2 * MIB ? ran(0) : failed('No space left on device'),
    );
    expect(await reserve.ensure(5 * MIB, MIB)).toBe(true);
    expect(fallocate.lengths).toEqual([5 * MIB, MIB]);
    expect(reserve.available()).toBe(MIB);
    expect(await reserve.ensure(3 * MIB, 3 * MIB)).toBe(false);
  });

  it('a transaction the disk can hold starts through the gate, though the step ahead does not fit', async () => {
    const { reserve } = scripted((length) =>
      length <= 2 * MIB ? ran(0) : failed('No space left on device'),
    );
    const gate = new GrowthGate(reserve);
    const held = await new Promise<boolean>((resolve) => {
      expect(gate.admit(MIB, resolve)).toBe(false);
    });
    expect(held).toBe(true);
    expect(gate.admit(MIB, () => {})).toBe(true);
  });

  it.each([
    ['a full quota', failed('Disk quota exceeded')],
    ['an I/O error', failed('Input/output error')],
    ['a helper that died twice', { kind: 'gone', why: 'exited' } as const],
  ])('%s refuses the request, and only that one', async (_what, answer) => {
    let disk: FallocateResult = answer;
    const { reserve, fallocate, unsupported } = scripted(() => disk);
    expect(await reserve.ensure(MIB)).toBe(false);
    expect(fallocate.lengths.at(0)).toBe(4 * MIB); // a sixteenth of the file ahead,
    expect(fallocate.lengths.at(-1)).toBe(MIB); // then the need alone
    expect(unsupported).toEqual([]);
    expect(reserve.available()).toBeLessThanOrEqual(0);
    disk = ran(0);
    expect(await reserve.ensure(MIB)).toBe(true);
    expect(reserve.available()).toBe(4 * MIB); // a sixteenth of the file ahead
  });

  it.each([
    ['a file system without it', failed('Operation not supported')],
    ['a kernel without it', failed('Function not implemented')],
    ['no fallocate command', ran(127, 'sh: 1: fallocate: not found')],
    ['no shell', { kind: 'gone', why: 'spawn sh ENOENT' } as const],
  ])('%s: says so once, and the reserve counts as unlimited', async (_what, answer) => {
    const { reserve, unsupported } = scripted(() => answer);
    expect(await reserve.ensure(MIB)).toBe(true);
    expect(await reserve.ensure(MIB)).toBe(true);
    expect(unsupported).toHaveLength(1);
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
