import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';

/**
 * What became of one request: fallocate ran (its exit status and message), it did not answer
 * in time (a hung disk), or the helper was gone before it answered (closed, killed, no `sh`).
 */
export type FallocateResult =
  | { readonly kind: 'ran'; readonly status: number; readonly message: string }
  | { readonly kind: 'timed-out' }
  | { readonly kind: 'gone'; readonly why: string };

// Reads "offset length path" lines; answers "status<TAB>message" for each, in order.
const LOOP = [
  'while IFS=" " read -r offset length file; do',
  '  out=$(fallocate --keep-size --offset "$offset" --length "$length" -- "$file" 2>&1)',
  '  status=$?',
  `  printf '%s\\t%s\\n' "$status" "$(printf '%s' "$out" | tr '\\n\\t' '  ')"`,
  'done',
].join('\n');

/**
 * One long-lived `sh` that runs fallocate for the node. Started while the node is small:
 * starting a process from a node of gigabytes copies its page tables on the event loop, and
 * bench:scale at 5M keys showed 100-300 ms turns on a SNAP leader, one per fallocate started
 * from it. Requests are answered in order; a request not answered within `timeoutMs` (a hung
 * disk) times out and the helper is replaced.
 */
export class FallocateHelper {
  private child: ChildProcessByStdio<Writable, Readable, null> | null = null;
  private readonly waiting: {
    resolve: (result: FallocateResult) => void;
    timer: NodeJS.Timeout;
  }[] = [];

  constructor(private readonly timeoutMs: number) {
    this.start();
  }

  run(path: string, offset: number, length: number): Promise<FallocateResult> {
    if (/[\n\r]/.test(path)) {
      return Promise.resolve({ kind: 'ran', status: 1, message: 'a path with a line break' });
    }
    const child = this.child ?? this.start();
    return new Promise((resolve) => {
      // Not unref'd: a request under way keeps the process alive, as a pending fs call would
      // (the idle helper does not); a process with nothing else to do would otherwise exit
      // while its writes wait for the blocks.
      const timer = setTimeout(() => this.replace({ kind: 'timed-out' }), this.timeoutMs);
      this.waiting.push({ resolve, timer });
      child.stdin.write(`${offset} ${length} ${path}\n`);
    });
  }

  close(): void {
    const child = this.child;
    this.child = null;
    child?.stdin.end();
    child?.kill();
    this.answerAll({ kind: 'gone', why: 'closed' });
  }

  private start(): ChildProcessByStdio<Writable, Readable, null> {
    // C locale: growth-reserve.ts tells "not supported" from a full disk by strerror's text.
    const child = spawn('sh', ['-c', LOOP], {
      stdio: ['pipe', 'pipe', 'ignore'],
      env: { ...process.env, LC_ALL: 'C' },
    });
    this.child = child;
    // The helper must not keep the process alive, nor outlive it.
    child.unref();
    (child.stdin as Writable & { unref?: () => void }).unref?.();
    (child.stdout as Readable & { unref?: () => void }).unref?.();
    child.stdin.on('error', () => this.replace({ kind: 'gone', why: 'stdin closed' }));
    child.on('error', (error) => this.replace({ kind: 'gone', why: error.message }));
    child.on('exit', () => {
      if (this.child === child) this.replace({ kind: 'gone', why: 'exited' });
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const waiter = this.waiting.shift();
      if (waiter === undefined) return;
      clearTimeout(waiter.timer);
      const tab = line.indexOf('\t');
      const status = Number(line.slice(0, tab));
      waiter.resolve({ kind: 'ran', status, message: line.slice(tab + 1) });
    });
    return child;
  }

  /** The helper failed or hung: what it owed gets `result`; the next run starts a new one. */
  private replace(result: FallocateResult): void {
    const child = this.child;
    this.child = null;
    child?.kill('SIGKILL');
    this.answerAll(result);
  }

  private answerAll(result: FallocateResult): void {
    for (const waiter of this.waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.resolve(result);
    }
  }
}
