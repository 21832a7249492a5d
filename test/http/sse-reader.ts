import { request, type IncomingMessage } from 'node:http';
import { createParser, type EventSourceMessage } from 'eventsource-parser';

/** A test's SSE client: `GET` on a frontend, its events in order, and control of reading. */
export class SseReader {
  readonly events: EventSourceMessage[] = [];
  /** Comment lines (keep-alives) seen so far. */
  comments = 0;
  ended = false;
  private waiters: (() => void)[] = [];

  private constructor(readonly response: IncomingMessage) {
    const parser = createParser({
      onEvent: (event) => {
        this.events.push(event);
        this.wake();
      },
      onComment: () => {
        this.comments++;
        this.wake();
      },
    });
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => parser.feed(chunk));
    response.on('close', () => {
      this.ended = true;
      this.wake();
    });
  }

  static open(
    port: number,
    path: string,
    headers: Record<string, string> = {},
  ): Promise<SseReader> {
    return new Promise((resolve, reject) => {
      const outgoing = request(
        { host: '127.0.0.1', port, path, headers: { accept: 'text/event-stream', ...headers } },
        (response) => resolve(new SseReader(response)),
      );
      outgoing.on('error', reject);
      outgoing.end();
    });
  }

  get status(): number {
    return this.response.statusCode ?? 0;
  }

  /** Waits until `test` holds (it is checked at every event, comment and at the end). */
  async until(test: () => boolean): Promise<void> {
    while (!test()) {
      if (this.ended) throw new Error(`stream ended; events: ${JSON.stringify(this.events)}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** Waits for the n-th event (1-based) and returns it. */
  async event(n: number): Promise<EventSourceMessage> {
    await this.until(() => this.events.length >= n);
    return this.events[n - 1]!;
  }

  close(): void {
    this.response.destroy();
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }
}
