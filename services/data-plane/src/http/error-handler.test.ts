import { describe, expect, it } from 'vitest';
import { describeValidation } from './error-handler.js';

const entry = (instancePath: string, keyword: string, params: Record<string, unknown>, message: string) => ({
  instancePath,
  schemaPath: '#/x',
  keyword,
  params,
  message,
});

describe('describeValidation', () => {
  it('reports the failed constraint of a nullable field, not its anyOf branches', () => {
    expect(
      describeValidation([
        entry('/temperature', 'type', { type: 'null' }, 'must be null'),
        entry('/temperature', 'maximum', { comparison: '<=', limit: 2 }, 'must be <= 2'),
        entry('/temperature', 'anyOf', {}, 'must match a schema in anyOf'),
      ]),
    ).toEqual({ message: "Invalid 'temperature': must be <= 2.", param: 'temperature' });
  });

  it('names a missing property by its path', () => {
    expect(
      describeValidation([
        entry('/messages/0', 'required', { missingProperty: 'role' }, "must have required property 'role'"),
      ]),
    ).toEqual({ message: "Missing required parameter: 'messages.0.role'.", param: 'messages.0.role' });
  });

  it('names the accepted values of an enum and the types of a union', () => {
    const roles = ['system', 'user'];
    expect(
      describeValidation([
        entry(
          '/messages/0/role',
          'enum',
          { allowedValues: roles },
          'must be equal to one of the allowed values',
        ),
      ]),
    ).toEqual({
      message: `Invalid 'messages.0.role': must be one of "system", "user".`,
      param: 'messages.0.role',
    });
    expect(
      describeValidation([entry('/stream', 'type', { type: 'boolean,null' }, 'must be boolean,null')]),
    ).toEqual({ message: "Invalid 'stream': must be boolean or null.", param: 'stream' });
  });

  it('describes the body itself without a param', () => {
    expect(describeValidation([entry('', 'type', { type: 'object' }, 'must be object')])).toEqual({
      message: 'Invalid body: must be object.',
    });
  });

  it('falls back to the first entry when every entry is a branch summary', () => {
    expect(describeValidation([entry('/stop', 'anyOf', {}, 'must match a schema in anyOf')])).toEqual({
      message: "Invalid 'stop': must match a schema in anyOf.",
      param: 'stop',
    });
    expect(describeValidation([])).toEqual({ message: 'The body is invalid.' });
  });
});
