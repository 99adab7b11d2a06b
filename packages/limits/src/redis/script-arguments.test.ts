import { Command } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { argumentValues, EncodedGroup, encodeArguments, type ScriptArgument } from './script-arguments.js';

const SHA = 'a'.repeat(40);

/** What ioredis itself writes for EVALSHA with these values: the reference encoding. */
function ioredisWire(values: (string | number)[]): string {
  return String(new Command('evalsha', [SHA, ...values]).toWritable({}));
}

describe('script arguments', () => {
  it('encode as ioredis encodes the same values, groups included', () => {
    const group = new EncodedGroup([3, '{tenant-é}:clock']);
    const args: ScriptArgument[] = [
      group,
      'router:{t}:r:req-1',
      new EncodedGroup(['k1', 'k2']),
      '',
      0,
      -1,
      2.5,
      'ünï',
    ];
    const { count, wire } = encodeArguments(args);
    const values = argumentValues(args);
    expect(values).toEqual([
      '3',
      '{tenant-é}:clock',
      'router:{t}:r:req-1',
      'k1',
      'k2',
      '',
      0,
      -1,
      2.5,
      'ünï',
    ]);
    expect(count).toBe(values.length);
    expect(`*${String(count + 2)}\r\n$7\r\nevalsha\r\n$40\r\n${SHA}\r\n${wire}`).toBe(ioredisWire(values));
  });

  it('encode an empty list as nothing', () => {
    expect(encodeArguments([])).toEqual({ count: 0, wire: '' });
  });
});
