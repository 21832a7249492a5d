import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { afterAll, beforeEach } from 'vitest';
import { freePorts } from '../../client/free-ports.js';
import { LocalCluster } from '../../client/local-cluster.js';

/** The built CLI the process tests run (`npm test` builds it first). */
export const CLI = 'dist/cli/cli.js';

export { freePorts };

/**
 * The HTTP and peer ports of a LocalCluster of `nodes` nodes, free on loopback now: one run
 * of 2 × `nodes` consecutive ports, HTTP first, so that two files running at once (or a
 * leftover node of an earlier run) cannot collide with this one.
 */
export async function clusterPorts(
  nodes: number,
): Promise<{ firstHttpPort: number; firstPeerPort: number }> {
  const first = await freePorts(2 * nodes);
  return { firstHttpPort: first, firstPeerPort: first + nodes };
}

/**
 * The cluster most process tests share, started and ready: `nodes` processes (default 3) in
 * groups of `replication` (default 3: one group), data under `dir`, free ports, warn logs;
 * `env` adds to the nodes' environment (a flag under test: ZABKV_QUOTA_BYTES, …).
 */
export async function startedCluster(
  dir: string,
  options: { nodes?: number; replication?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<LocalCluster> {
  const nodes = options.nodes ?? 3;
  const cluster = new LocalCluster({
    nodes,
    replication: options.replication ?? 3,
    dataDir: join(dir, 'data'),
    ...(await clusterPorts(nodes)),
    cli: CLI,
    env: { LOG_LEVEL: 'warn', ...options.env },
  });
  cluster.start();
  await cluster.ready(60_000);
  return cluster;
}

/** An error as one line, with its cause (fetch and undici put the socket error there). */
function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = error.cause === undefined ? '' : ` (cause: ${describeError(error.cause)})`;
  return `${error.name}: ${error.message}${cause}`;
}

/**
 * Polls `probe` until it returns a value. An error counts as "not yet", but is kept: a wait
 * that times out says what the probes threw (each distinct error once, with how often), so
 * that "connection refused" and "503 no leader" do not look alike.
 */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 30_000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  const errors = new Map<string, number>();
  let probes = 0;
  for (;;) {
    probes++;
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      const text = describeError(error);
      if (errors.has(text) || errors.size < 10) errors.set(text, (errors.get(text) ?? 0) + 1);
    }
    if (Date.now() > deadline) {
      const thrown = [...errors].map(([text, count]) => `\n  ${count} × ${text}`).join('');
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what} (${probes} probes, ` +
          `${errors.size === 0 ? 'none threw' : `their errors:${thrown}`})`,
      );
    }
    await sleep(intervalMs);
  }
}

const LOG_TAIL_LINES = 60;

/** Every `*.log` file under `dir` (node logs sit in the data directory or one below). */
function logFiles(dir: string, depth = 2): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return depth > 0 ? logFiles(path, depth - 1) : [];
    return name.endsWith('.log') ? [path] : [];
  });
}

function anyFailed(task: { result?: { state?: string }; tasks?: readonly unknown[] }): boolean {
  if (task.result?.state === 'fail') return true;
  return (task.tasks ?? []).some((child) => anyFailed(child as typeof task));
}

/**
 * A temporary directory for a process test file's data and node logs. Call it at the top
 * level of the file: it removes the directory after the file's tests (after the file's own
 * afterAll, which stops the nodes) when all passed. When a test or a hook failed it keeps
 * the directory, prints its path, and prints the tail of every node log in it, since a
 * cluster that did not form says why only there.
 */
export function testDirectory(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let failed = false;
  beforeEach(({ onTestFailed }) => onTestFailed(() => void (failed = true)));
  // Registered before the file's own afterAll, so it runs after it (hooks run as a stack).
  // vitest reads the first parameter as a fixture list: it must be a destructuring pattern.
  // eslint-disable-next-line no-empty-pattern
  afterAll(({}, suite) => {
    if (!failed && !anyFailed(suite)) {
      rmSync(dir, { recursive: true, force: true });
      return;
    }
    const tails = logFiles(dir).map((file) => {
      const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
      return `--- ${file} (last ${Math.min(lines.length, LOG_TAIL_LINES)} of ${lines.length} lines)\n${lines.slice(-LOG_TAIL_LINES).join('\n')}`;
    });
    console.error(
      `a test failed: kept ${dir} with the node logs\n${tails.join('\n') || '(no *.log files)'}`,
    );
  });
  return dir;
}

/** An undici dispatcher with these TLS options (a CA, a client certificate). */
export function agent(connect: Record<string, Buffer> = {}): Dispatcher {
  return new Agent({ connect });
}

/** One request; its status, headers and body as text. */
export async function call(
  url: string,
  options: {
    dispatcher?: Dispatcher;
    method?: 'GET' | 'PUT' | 'DELETE' | 'POST';
    headers?: Record<string, string>;
    body?: string | Buffer;
  } = {},
): Promise<{ status: number; headers: Record<string, unknown>; text: string }> {
  const response = await request(url, {
    method: options.method ?? 'GET',
    headersTimeout: 5_000,
    bodyTimeout: 5_000,
    ...(options.dispatcher === undefined ? {} : { dispatcher: options.dispatcher }),
    ...(options.headers === undefined ? {} : { headers: options.headers }),
    ...(options.body === undefined ? {} : { body: options.body }),
  });
  return {
    status: response.statusCode,
    headers: response.headers,
    text: await response.body.text(),
  };
}

/** Runs the CLI with `args` and extra environment; resolves with its exit code and output. */
export function runCli(
  args: readonly string[],
  env: NodeJS.ProcessEnv = {},
  timeoutMs = 30_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...process.env, LOG_LEVEL: 'warn', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
