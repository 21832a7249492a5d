import { describe, expect, it } from 'vitest';
import {
  insufficientStorage,
  isInsufficientStorage,
  outcomeFromFields,
  outcomeToFields,
  quotaExceeded,
} from '../../kv/outcome.js';

describe('the disk-space 507', () => {
  it('is a 507 told apart from the quota one, also after crossing the wire', () => {
    const noSpace = insufficientStorage('the leader is low on disk space');
    expect(noSpace.status).toBe(507);
    expect(isInsufficientStorage(noSpace)).toBe(true);
    expect(isInsufficientStorage(outcomeFromFields(outcomeToFields(noSpace)))).toBe(true);
    expect(isInsufficientStorage(quotaExceeded('100 of 50 bytes'))).toBe(false);
    expect(isInsufficientStorage({ status: 503, reason: 'disk space: no' })).toBe(false);
  });
});
