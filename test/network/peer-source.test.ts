import { describe, expect, it } from 'vitest';
import { peerSource } from '../../components/network/peer-source.js';

describe('peerSource: what per-source handshake limits count against', () => {
  it('is the address for IPv4, and for IPv4 mapped into IPv6', () => {
    expect(peerSource('10.0.0.1')).toBe('10.0.0.1');
    expect(peerSource('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(peerSource('::FFFF:10.0.0.1')).toBe('10.0.0.1');
  });

  it('is the /64 for IPv6: one host cannot take every slot by rotating its low bits', () => {
    const source = '2001:db8:0:0::/64';
    expect(peerSource('2001:db8::1')).toBe(source);
    expect(peerSource('2001:0db8:0000:0000:ffff:ffff:ffff:fffe')).toBe(source);
    expect(peerSource('2001:db8::ffff:1.2.3.4')).toBe(source);
    expect(peerSource('2001:db8:0:1::1')).toBe('2001:db8:0:1::/64');
    expect(peerSource('fe80::1%eth0')).toBe('fe80:0:0:0::/64');
    expect(peerSource('::1')).toBe('0:0:0:0::/64');
    expect(peerSource('1:2:3:4:5:6:7:8')).toBe('1:2:3:4::/64');
  });
});
