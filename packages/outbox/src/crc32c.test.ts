import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c } from './crc32c.js';

/** The definition, one bit at a time (reflected, polynomial 0x82F63B78): slow and obviously right. */
function bitwiseCrc32c(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k += 1) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}

describe('crc32c', () => {
  it('matches the RFC 3720 (iSCSI) test vectors', () => {
    expect(crc32c(Buffer.from('123456789'))).toBe(0xe3069283);
    expect(crc32c(Buffer.alloc(32, 0x00))).toBe(0x8a9136aa);
    expect(crc32c(Buffer.alloc(32, 0xff))).toBe(0x62a8ab43);
    expect(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i)))).toBe(0x46dd794e);
  });

  it('continues across split buffers', () => {
    const bytes = Buffer.from('the quick brown fox jumps over the lazy dog, twice over');
    for (const split of [0, 1, 7, 8, 9, 30, bytes.length]) {
      expect(crc32c(bytes, split, bytes.length, crc32c(bytes, 0, split))).toBe(crc32c(bytes));
    }
  });

  it('equals the bit-by-bit definition for any bytes, range and split (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.nat(), fc.nat(), fc.nat(), (bytes, a, b, c) => {
        const [start, split, end] = [a, b, c].map((n) => n % (bytes.length + 1)).sort((x, y) => x - y) as [
          number,
          number,
          number,
        ];
        const expected = bitwiseCrc32c(bytes.subarray(start, end));
        expect(crc32c(bytes, start, end)).toBe(expected);
        expect(crc32c(bytes, split, end, crc32c(bytes, start, split))).toBe(expected);
      }),
      { numRuns: 500 },
    );
  });
});
