import { describe, expect, it, vi } from 'vitest';
import { encodeFrame, FrameDecoder, FrameError } from '../../components/network/frame-codec.js';

describe('frame codec', () => {
  const values = [
    { kind: 'a', n: 1 },
    { kind: 'b', bytes: Buffer.from([1, 2, 3]) },
    'text',
    2 ** 40,
    [1, [2]],
  ];

  it('round-trips values through one chunk holding many frames', () => {
    const decoder = new FrameDecoder(1024);
    expect(decoder.push(Buffer.concat(values.map(encodeFrame)))).toEqual(values);
  });

  it('reassembles frames split byte by byte', () => {
    const decoder = new FrameDecoder(1024);
    const bytes = Buffer.concat(values.map(encodeFrame));
    const out: unknown[] = [];
    for (let i = 0; i < bytes.length; i++) out.push(...decoder.push(bytes.subarray(i, i + 1)));
    expect(out).toEqual(values);
  });

  it('rejects an oversized frame from its header alone', () => {
    const decoder = new FrameDecoder(16);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(17);
    expect(() => decoder.push(header)).toThrow(FrameError);
    expect(() => new FrameDecoder(16).push(encodeFrame('x'.repeat(40)))).toThrow(
      /exceeds the limit/,
    );
  });

  it('rejects a body that is not msgpack', () => {
    const frame = Buffer.from([0, 0, 0, 2, 0xc1, 0xc1]);
    expect(() => new FrameDecoder(16).push(frame)).toThrow(FrameError);
  });

  it('decodes a 4 MiB frame trickled in 7-byte chunks, joining it once', () => {
    // The old decoder copied the whole partial frame on every chunk: ~600,000 chunks of a
    // frame averaging 2 MiB buffered is over a terabyte of copying. This one joins once.
    const blob = Buffer.alloc(4 * 2 ** 20, 0xab);
    const frame = encodeFrame({ kind: 'blob', blob });
    const decoder = new FrameDecoder(8 * 2 ** 20);
    const concat = vi.spyOn(Buffer, 'concat');
    try {
      const out: unknown[] = [];
      for (let i = 0; i < frame.length; i += 7) out.push(...decoder.push(frame.subarray(i, i + 7)));
      expect(out).toHaveLength(1);
      expect(Buffer.compare((out[0] as { blob: Buffer }).blob, blob)).toBe(0);
      // 2 joins: the 4-byte header (split 7 bytes in, never more), then the whole frame.
      expect(concat.mock.calls.length).toBeLessThanOrEqual(2);
      expect(decoder.bufferedBytes).toBe(0);
    } finally {
      concat.mockRestore();
    }
  });

  it('decodes any split of many frames, with pieces around the small-piece threshold', () => {
    let state = 12_345;
    const random = (n: number) => {
      state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
      return state % n;
    };
    const sent = Array.from({ length: 300 }, (_, i) => ({
      i,
      bytes: Buffer.alloc(random(3) === 0 ? random(200_000) : random(100), i % 256),
    }));
    const stream = Buffer.concat(sent.map(encodeFrame));
    const sizes = [1, 3, 4, 5, 1023, 1024, 1025, 4096, 65_536, 70_000];
    const decoder = new FrameDecoder(2 ** 20);
    const out: unknown[] = [];
    for (let offset = 0; offset < stream.length;) {
      const size = sizes[random(sizes.length)]!;
      out.push(...decoder.push(stream.subarray(offset, offset + size)));
      offset += size;
    }
    // Compared by hand: a deep toEqual over 20 MB of buffers takes minutes.
    expect(out).toHaveLength(sent.length);
    out.forEach((value, i) => {
      const { i: index, bytes } = value as (typeof sent)[number];
      expect(index).toBe(i);
      expect(Buffer.compare(bytes, sent[i]!.bytes)).toBe(0);
    });
  });

  it('under the pre-Hello limit, rejects a 16 MiB announcement from its header at once', () => {
    const decoder = new FrameDecoder(4 * 1024);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(16 * 2 ** 20);
    expect(() => decoder.push(header)).toThrow(/exceeds the limit of 4096/);
    // The same header split over two chunks fails as soon as it is whole.
    const split = new FrameDecoder(4 * 1024);
    expect(split.push(header.subarray(0, 2))).toEqual([]);
    expect(() => split.push(header.subarray(2))).toThrow(FrameError);
  });

  it('applies a limit raised in the callback to the next frame of the same chunk', () => {
    const hello = encodeFrame({ kind: 'hello' });
    const big = encodeFrame({ kind: 'big', bytes: Buffer.alloc(8192) });
    const chunk = Buffer.concat([hello, big]);

    const strict = new FrameDecoder(4 * 1024);
    const seen: unknown[] = [];
    expect(() => strict.feed(chunk, (value) => void seen.push(value))).toThrow(/exceeds/);
    expect(seen).toEqual([{ kind: 'hello' }]);

    const raising = new FrameDecoder(4 * 1024);
    const values: unknown[] = [];
    raising.feed(chunk, (value) => {
      values.push(value);
      raising.maxFrameBytes = 2 ** 20;
    });
    expect(values.map((v) => (v as { kind: string }).kind)).toEqual(['hello', 'big']);
  });

  it('decodes binary fields into buffers of their own, not views into the chunk', () => {
    const payload = new Uint8Array(10_000).fill(7);
    const chunk = Buffer.concat([
      encodeFrame({ kind: 'a', payload }),
      encodeFrame({ kind: 'b', payload: payload.subarray(0, 100) }),
    ]);
    const values = new FrameDecoder(1 << 20).push(chunk) as { payload: Uint8Array }[];
    expect(values.map((v) => v.payload.byteLength)).toEqual([10_000, 100]);
    for (const { payload: decoded } of values) {
      expect(decoded.buffer.byteLength).toBe(decoded.byteLength);
      expect(decoded.every((byte) => byte === 7)).toBe(true);
    }
  });

  it('stops at once when the callback returns false', () => {
    const chunk = Buffer.concat([encodeFrame(1), encodeFrame(2), encodeFrame(3)]);
    const values: unknown[] = [];
    new FrameDecoder(64).feed(chunk, (value) => {
      values.push(value);
      return value !== 2;
    });
    expect(values).toEqual([1, 2]);
  });
});
