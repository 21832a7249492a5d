/**
 * `npm run mutants`: plants each bug of catalogue.ts in a copy of the tree and runs the tests
 * expected to catch it, two mutants at a time (one per core). Prints, per mutant, caught (and
 * by which tests) or NOT CAUGHT, and exits non-zero when one survives or cannot be planted.
 * A development tool, not part of `npm test`: run it after any change to the protocol, the
 * storage or the request path, inside the shared lock on a shared machine:
 *
 *   flock /tmp/zabkv-heavy.lock npm run mutants
 *   npm run mutants -- --only ack-before-durable,wal-torn-middle-segment
 *   npm run mutants -- --baseline     # first check that the selected tests pass unmutated
 *   npm run mutants -- --list
 */
import { spawn } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, InvalidArgumentError } from 'commander';
import ts from 'typescript';
import { MUTANTS, type Mutant } from './catalogue.js';

const ROOT = process.cwd();
/** Not copied: installed or built output, history, a local cluster's data. */
const NOT_COPIED = new Set(['node_modules', 'dist', '.git', 'data', 'coverage']);
const VITEST = join(ROOT, 'node_modules', 'vitest', 'vitest.mjs');

interface Verdict {
  readonly mutant: Mutant;
  readonly result: 'caught' | 'not caught' | 'error';
  /** The failing tests (caught), or what went wrong (error). */
  readonly detail: readonly string[];
  readonly seconds: number;
}

/** A copy of the working tree (uncommitted changes too), sharing node_modules. */
function copyTree(tag: string): string {
  const dir = mkdtempSync(join(tmpdir(), `zabkv-mutant-${tag}-`));
  for (const name of readdirSync(ROOT)) {
    if (!NOT_COPIED.has(name)) cpSync(join(ROOT, name), join(dir, name), { recursive: true });
  }
  symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'));
  return dir;
}

/** Applies the mutant's edits in `dir`; throws, naming the mutant, if a snippet moved. */
function plant(mutant: Mutant, dir: string): void {
  for (const edit of mutant.edits) {
    const path = join(dir, edit.file);
    if (!existsSync(path)) throw new Error(`${edit.file} does not exist`);
    const text = readFileSync(path, 'utf8');
    const found = text.split(edit.find).length - 1;
    if (found !== 1) {
      throw new Error(
        `the snippet occurs ${found} times in ${edit.file} (it must occur once): ` +
          `update this mutant in test/mutants/catalogue.ts\n${edit.find}`,
      );
    }
    const mutated = text.replace(edit.find, () => edit.replace);
    // A mutant that does not parse would "fail" every test: that is no catch.
    const { diagnostics } = ts.transpileModule(mutated, {
      fileName: edit.file,
      reportDiagnostics: true,
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 },
    });
    if (diagnostics !== undefined && diagnostics.length > 0) {
      const why = ts.flattenDiagnosticMessageText(diagnostics[0]!.messageText, ' ');
      throw new Error(`the mutated ${edit.file} does not parse: ${why}`);
    }
    writeFileSync(path, mutated);
  }
}

interface JsonReport {
  readonly testResults?: readonly {
    readonly name: string;
    readonly status: string;
    readonly message?: string;
    readonly assertionResults?: readonly { readonly fullName: string; readonly status: string }[];
  }[];
}

/** Runs the mutant's tests in `dir`; resolves with vitest's exit code and the failed tests. */
function runTests(
  mutant: Mutant,
  dir: string,
  timeoutMs: number,
): Promise<{ code: number | null; failed: string[]; output: string }> {
  const report = join(dir, 'mutant-report.json');
  const args = [VITEST, 'run', ...mutant.tests, '--reporter=json', `--outputFile=${report}`];
  if (mutant.testNamePattern !== undefined) args.push('-t', mutant.testNamePattern);
  // The replay variables of the caller must not narrow the mutant's seeds.
  const env = { ...process.env };
  for (const name of ['ZABKV_SEED', 'ZABKV_SEEDS', 'ZABKV_SIZE']) delete env[name];
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, {
      cwd: dir,
      env: { ...env, ...mutant.env, LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer) => (output = (output + chunk.toString()).slice(-20_000));
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      const failed: string[] = [];
      if (existsSync(report)) {
        const parsed = JSON.parse(readFileSync(report, 'utf8')) as JsonReport;
        for (const file of parsed.testResults ?? []) {
          const short = file.name.slice(dir.length + 1);
          const tests = (file.assertionResults ?? []).filter((t) => t.status === 'failed');
          for (const test of tests) failed.push(`${short} > ${test.fullName}`);
          if (tests.length === 0 && file.status === 'failed') {
            failed.push(`${short}: ${(file.message ?? 'failed').split('\n')[0]!}`);
          }
        }
      }
      resolve({ code, failed, output });
    });
  });
}

async function judge(mutant: Mutant, timeoutMs: number, mutate: boolean): Promise<Verdict> {
  const started = Date.now();
  const seconds = () => Math.round((Date.now() - started) / 1000);
  const dir = copyTree(mutant.name);
  try {
    if (mutate) plant(mutant, dir);
    const { code, failed, output } = await runTests(mutant, dir, timeoutMs);
    if (code === null) {
      return {
        mutant,
        result: 'error',
        detail: [`killed after ${timeoutMs} ms`],
        seconds: seconds(),
      };
    }
    if (code === 0) return { mutant, result: 'not caught', detail: [], seconds: seconds() };
    if (failed.length === 0) {
      const tail = output.trim().split('\n').slice(-15);
      return {
        mutant,
        result: 'error',
        detail: [`vitest exited ${code}`, ...tail],
        seconds: seconds(),
      };
    }
    return { mutant, result: 'caught', detail: failed, seconds: seconds() };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { mutant, result: 'error', detail: message.split('\n'), seconds: seconds() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Runs `work` over `items`, `jobs` at a time, in order of start. */
async function pool<T, R>(items: readonly T[], jobs: number, work: (item: T) => Promise<R>) {
  const results: R[] = [];
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(jobs, items.length) }, worker));
  return results;
}

function positive(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('a positive integer');
  return n;
}

async function main(): Promise<number> {
  const options = new Command('mutants')
    .description('plant each bug of test/mutants/catalogue.ts and run the tests that must catch it')
    .option('--only <names>', 'comma-separated mutant names')
    .option('--jobs <n>', 'mutants at a time', positive, Math.min(2, availableParallelism()))
    .option('--timeout <s>', 'seconds per mutant before it is killed', positive, 900)
    .option('--baseline', 'run the selected tests unmutated first; stop if they fail')
    .option('--list', 'list the mutants and exit')
    .parse()
    .opts<{ only?: string; jobs: number; timeout: number; baseline?: boolean; list?: boolean }>();

  const names = new Set(MUTANTS.map((m) => m.name));
  if (names.size !== MUTANTS.length) throw new Error('two mutants share a name');
  const only = options.only?.split(',').map((name) => name.trim());
  for (const name of only ?? []) {
    if (!names.has(name)) throw new Error(`no mutant ${name}; --list shows them`);
  }
  const selected = MUTANTS.filter((m) => only === undefined || only.includes(m.name));
  if (options.list === true) {
    for (const m of selected) console.log(`${m.name.padEnd(32)} ${m.bug}`);
    return 0;
  }
  const timeoutMs = options.timeout * 1000;
  const line = (v: Verdict, label: string) =>
    `${label.padEnd(11)} ${v.mutant.name.padEnd(32)} ${String(v.seconds).padStart(4)} s  ${v.detail[0] ?? ''}`;

  if (options.baseline === true) {
    console.log(`baseline: the tests of ${selected.length} mutants, unmutated`);
    const baseline = await pool(selected, options.jobs, (m) => judge(m, timeoutMs, false));
    const broken = baseline.filter((v) => v.result !== 'not caught');
    for (const v of broken) {
      console.log(line(v, 'FAILS'));
      for (const more of v.detail.slice(1)) console.log(`${' '.repeat(52)}${more}`);
    }
    if (broken.length > 0) {
      console.log(
        'the tests fail without a mutant: fix them first, no verdict would mean anything',
      );
      return 2;
    }
  }

  console.log(`${selected.length} mutants, ${options.jobs} at a time`);
  const verdicts = await pool(selected, options.jobs, async (mutant) => {
    const verdict = await judge(mutant, timeoutMs, true);
    const label = verdict.result === 'caught' ? 'caught' : verdict.result.toUpperCase();
    console.log(line(verdict, label));
    for (const more of verdict.detail.slice(1, 4)) console.log(`${' '.repeat(52)}${more}`);
    if (verdict.detail.length > 4)
      console.log(`${' '.repeat(52)}(+${verdict.detail.length - 4} more)`);
    if (verdict.result === 'not caught') {
      const pattern = mutant.testNamePattern === undefined ? '' : ` -t '${mutant.testNamePattern}'`;
      console.log(`${' '.repeat(52)}survived: ${mutant.tests.join(' ')}${pattern}`);
    }
    return verdict;
  });
  const caught = verdicts.filter((v) => v.result === 'caught').length;
  const survived = verdicts.filter((v) => v.result === 'not caught').map((v) => v.mutant.name);
  const errors = verdicts.filter((v) => v.result === 'error').map((v) => v.mutant.name);
  console.log(
    `\n${caught} of ${verdicts.length} caught` +
      (survived.length > 0 ? `; survived: ${survived.join(', ')}` : '') +
      (errors.length > 0 ? `; could not run: ${errors.join(', ')}` : ''),
  );
  return survived.length + errors.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(2);
  },
);
