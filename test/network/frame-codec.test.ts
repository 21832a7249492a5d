import { describe, expect, it } from 'vitest';
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
});
