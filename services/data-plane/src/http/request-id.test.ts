import { describe, expect, it } from 'vitest';
import { uuidV7 } from './request-id.js';

describe('uuidV7', () => {
  it('matches the UUIDv7 test vector of RFC 9562 (appendix A.6)', () => {
    const random = Buffer.from([0x0c, 0xc3, 0x18, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39, 0x8f]);
    expect(uuidV7(0x017f22e279b0, random)).toBe('017f22e2-79b0-7cc3-98c4-dc0c0c07398f');
  });

  it('sets version and variant whatever the random bytes, and keeps the time in the first 48 bits', () => {
    for (const fill of [0x00, 0xff, 0x5a]) {
      const id = uuidV7(0xffffffffffff, Buffer.alloc(10, fill));
      expect(id).toMatch(/^ffffffff-ffff-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    }
    expect(uuidV7(0, Buffer.alloc(10))).toBe('00000000-0000-7000-8000-000000000000');
  });

  it('returns a new string each call (the scratch buffer is not shared with callers)', () => {
    const first = uuidV7(1, Buffer.alloc(10, 1));
    const second = uuidV7(2, Buffer.alloc(10, 2));
    expect(first).toBe('00000000-0001-7101-8101-010101010101');
    expect(second).toBe('00000000-0002-7202-8202-020202020202');
  });
});
