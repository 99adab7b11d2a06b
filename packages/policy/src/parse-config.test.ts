import { describe, expect, it } from 'vitest';
import type { ConfigDocuments } from './config-document.js';
import { ConfigInvalidError, type ConfigIssue } from './config-issue.js';
import { parseConfig } from './parse-config.js';

// Detailed error cases live in the golden files (../testdata); these cover behaviour around them.

function documents(router: string, policies = ''): ConfigDocuments {
  return { router: { source: 'r.yaml', text: router }, policies: { source: 'p.yaml', text: policies } };
}

function issuesOf(input: ConfigDocuments): ConfigIssue[] {
  try {
    parseConfig(input);
  } catch (error: unknown) {
    if (error instanceof ConfigInvalidError) return [...error.issues];
    throw error;
  }
  throw new Error('config was accepted');
}

describe('parseConfig', () => {
  it('treats empty documents as empty configs with every default', () => {
    expect(parseConfig(documents(''))).toEqual({
      router: {
        settings: {
          maxBodyBytes: 1_048_576,
          defaultRequestTimeoutMs: 30_000,
          defaultMaxOutputTokens: 1024,
          reservationTtlMs: 120_000,
        },
        backends: [],
        routes: [],
        prices: [],
        admin: { tokens: [] },
      },
      policies: { tenants: [], apiKeys: [] },
    });
  });

  it('fills backend, route, target, tenant and key defaults', () => {
    const config = parseConfig(
      documents(
        'backends: [{ id: a, baseUrl: "http://a:1/v1" }]\nroutes: [{ id: r, model: m, targets: [{ backend: a }] }]',
        'tenants: [{ id: t }]\napiKeys: [{ publicId: rk_abcd, secretSha256: "' +
          '0'.repeat(64) +
          '", tenant: t, allowedModels: [m] }]',
      ),
    );
    expect(config.router.backends[0]).toEqual({
      id: 'a',
      baseUrl: 'http://a:1/v1',
      provider: 'openai-compatible',
      enabled: true,
      connectTimeoutMs: 2000,
      firstByteTimeoutMs: 30_000,
      maxConnections: 128,
      healthPath: '/health',
      outputLimitParam: 'max_tokens',
    });
    expect(config.router.routes[0]).toEqual({
      id: 'r',
      model: 'm',
      maxAttempts: 2,
      requestTimeoutMs: 0,
      targets: [{ backend: 'a', weight: 1, priority: 0 }],
    });
    expect(config.policies.tenants[0]).toEqual({ id: 't', displayName: '', disabled: false });
    expect(config.policies.apiKeys[0]).toMatchObject({ disabled: false, allowedModels: ['m'] });
    expect(config.policies.apiKeys[0]?.expiresAt).toBeUndefined();
  });

  it('takes a backend output limit param of max_tokens or max_completion_tokens, and nothing else', () => {
    const backend = (param: string) =>
      documents(`backends:\n  - id: a\n    baseUrl: "http://a:1/v1"\n    outputLimitParam: ${param}\n`);
    expect(parseConfig(backend('max_completion_tokens')).router.backends[0]?.outputLimitParam).toBe(
      'max_completion_tokens',
    );
    expect(parseConfig(backend('max_tokens')).router.backends[0]?.outputLimitParam).toBe('max_tokens');
    for (const wrong of ['maxCompletionTokens', 'max_output_tokens', '2']) {
      expect(issuesOf(backend(wrong))).toEqual([
        {
          source: 'r.yaml',
          path: 'backends[0].outputLimitParam',
          line: 4,
          message: 'must be "max_tokens" or "max_completion_tokens"',
        },
      ]);
    }
  });

  it('reports the issues of both documents together, document by document and line by line', () => {
    const issues = issuesOf(
      documents(
        'routes:\n  - id: r\n    model: m\n    targets: [{ backend: nope }]\nbogus: 1\n',
        'tenants: [{}]',
      ),
    );
    expect(issues).toEqual([
      { source: 'r.yaml', path: 'routes[0].targets[0].backend', line: 4, message: 'unknown backend "nope"' },
      { source: 'r.yaml', path: 'bogus', line: 5, message: 'unknown field "bogus"' },
      { source: 'p.yaml', path: 'tenants[0].id', line: 1, message: 'missing required field "id"' },
    ]);
  });

  it('summarises the first issue in the error message', () => {
    expect(() => parseConfig(documents('bogus: 1\nother: 2\n'))).toThrow(
      'invalid config: r.yaml:1 bogus: unknown field "bogus" (and 1 more issue(s))',
    );
  });

  it('rejects a document that is not a mapping', () => {
    expect(issuesOf(documents('- a\n- b\n'))).toEqual([
      { source: 'r.yaml', path: '', line: 1, message: 'Invalid input: expected object, received array' },
    ]);
  });

  it('reports an empty value against its key', () => {
    expect(issuesOf(documents('backends:\n  - id: a\n    baseUrl:\n'))).toEqual([
      {
        source: 'r.yaml',
        path: 'backends[0].baseUrl',
        line: 3,
        message: 'Invalid input: expected string, received null',
      },
    ]);
  });

  it('points an unknown key that YAML reads as a number, boolean or null at its own line', () => {
    const router = [
      'backends: [{ id: a, baseUrl: "http://a:1/v1" }]',
      'routes:',
      '  - id: r',
      '    model: m',
      '    targets: [{ backend: a }]',
      '    1: x',
      '    true: y',
      '    null: z',
    ].join('\n');
    expect(issuesOf(documents(router)).map((issue) => [issue.path, issue.line])).toEqual([
      ['routes[0].1', 6],
      ['routes[0].true', 7],
      ['routes[0].', 8],
    ]);
  });

  it('refuses a number written with more digits than it keeps, rather than reading it rounded', () => {
    // 0.1000000000000000001 and 999999.00000000001 read as the numbers 0.1 and 999999: a price with more
    // than 6 decimal places would be accepted, rounded down.
    const router = [
      'backends: [{ id: a, baseUrl: "http://a:1/v1" }]',
      'routes: [{ id: r, model: m, targets: [{ backend: a }] }]',
      'prices:',
      '  - model: m',
      '    inputUsdPerMillionTokens: 0.1000000000000000001',
      '    outputUsdPerMillionTokens: 999999.00000000001',
    ].join('\n');
    expect(issuesOf(documents(router)).map((issue) => [issue.line, issue.message])).toEqual([
      [5, expect.stringContaining('0.1000000000000000001') as string],
      [6, expect.stringContaining('999999.00000000001') as string],
    ]);
    // What a number keeps exactly, however it is written, is read as before.
    const exact = router
      .replace('0.1000000000000000001', '0.10000e0')
      .replace('999999.00000000001', '999999.000000000');
    expect(parseConfig(documents(exact)).router.prices[0]).toMatchObject({
      inputMicrosPerMillionTokens: 100_000,
      outputMicrosPerMillionTokens: 999_999_000_000,
    });
  });

  it('refuses a %YAML 1.1 directive, under which no is false, 010 is 8 and << merges', () => {
    // The config is read as YAML 1.2, where `enabled: no` is the string "no" (refused: not a boolean). The
    // directive would switch to YAML 1.1 and make the same text mean something else.
    const router = [
      '# router',
      '%YAML 1.1',
      '---',
      'backends: [{ id: a, baseUrl: "http://a:1/v1", enabled: no }]',
    ].join('\n');
    expect(issuesOf(documents(router))).toEqual([
      {
        source: 'r.yaml',
        path: '',
        line: 2,
        message:
          'malformed YAML: only YAML 1.2 is read (under %YAML 1.1, no/on/off are booleans, 010 is octal and ' +
          '<< merges mappings): remove the directive',
      },
    ]);
    expect(issuesOf(documents(router.replace('%YAML 1.1', '%YAML 1.2'))).map((issue) => issue.path)).toEqual([
      'backends[0].enabled',
    ]);
  });

  it('refuses a tag it cannot resolve rather than reading the value without it', () => {
    // The yaml library only warns about an unknown tag and keeps the plain value: `!env a` read as "a" is not
    // what an operator who wrote it meant.
    const router = [
      'backends:',
      '  - id: !env BACKEND_ID',
      '    baseUrl: "http://a:1/v1"',
      '  - id: b',
      '    baseUrl: !!int "http://b:1/v1"',
    ].join('\n');
    expect(issuesOf(documents(router))).toEqual([
      { source: 'r.yaml', path: '', line: 2, message: 'malformed YAML: Unresolved tag: !env' },
      { source: 'r.yaml', path: '', line: 5, message: expect.stringContaining('malformed YAML: ') as string },
    ]);
  });

  it('refuses a number written with a leading zero, which YAML 1.1 reads as octal', () => {
    // YAML 1.2 reads 010 as 10, YAML 1.1 (and many an operator) as 8: whichever this config picked, the
    // other reading is just as plausible. 0o10, 10, 0 and decimals (00.5 is 0.5 in both) are unambiguous.
    const router = [
      'settings:',
      '  maxBodyBytes: 0100000',
      '  defaultMaxOutputTokens: -012',
      'backends: [{ id: a, baseUrl: "http://a:1/v1", connectTimeoutMs: 0o10, maxConnections: 0 }]',
      'routes: [{ id: r, model: m, targets: [{ backend: a }] }]',
      'prices: [{ model: m, inputUsdPerMillionTokens: 00.5, outputUsdPerMillionTokens: 0 }]',
    ].join('\n');
    expect(issuesOf(documents(router)).map((issue) => [issue.line, issue.message])).toEqual([
      [
        2,
        'number 0100000 has a leading zero, which YAML 1.1 reads as octal: write 100000, or 0o100000 for octal',
      ],
      [3, 'number -012 has a leading zero, which YAML 1.1 reads as octal: write -12'],
    ]);
  });

  it('refuses a backend price whose backend is not a target of the route serving its model', () => {
    // The override would never apply: requests of model m go to backend a, priced at the model-wide price.
    // An operator who meant to price a's tokens and wrote b's id (or moved the route) would never know.
    const router = [
      'backends:',
      '  - { id: a, baseUrl: "http://a:1/v1" }',
      '  - { id: b, baseUrl: "http://b:1/v1" }',
      'routes: [{ id: r, model: m, targets: [{ backend: a }] }]',
      'prices:',
      '  - { model: m, inputUsdPerMillionTokens: 1, outputUsdPerMillionTokens: 2 }',
      '  - { model: m, backend: b, inputUsdPerMillionTokens: 3, outputUsdPerMillionTokens: 4 }',
    ].join('\n');
    expect(issuesOf(documents(router))).toEqual([
      {
        source: 'r.yaml',
        path: 'prices[1].backend',
        line: 7,
        message: 'backend "b" is not a target of route "r" (model "m"): this price would never apply',
      },
    ]);
    expect(parseConfig(documents(router.replace('backend: b,', 'backend: a,'))).router.prices).toHaveLength(
      2,
    );
  });

  it('says that a merge key (<<) is not read, rather than only calling it an unknown field', () => {
    const router = [
      'defaults: &defaults { connectTimeoutMs: 500 }',
      'backends:',
      '  - <<: *defaults',
      '    id: a',
      '    baseUrl: "http://a:1/v1"',
    ].join('\n');
    expect(issuesOf(documents(router))).toEqual([
      { source: 'r.yaml', path: 'defaults', line: 1, message: 'unknown field "defaults"' },
      {
        source: 'r.yaml',
        path: 'backends[0].<<',
        line: 3,
        message:
          'unknown field "<<": YAML 1.2 has no merge keys, so nothing is merged; write the fields out (an ' +
          'alias can still stand for a whole value)',
      },
    ]);
  });

  it('accepts aliases within reason', () => {
    const router = [
      'backends: [{ id: a, baseUrl: "http://a:1/v1" }]',
      'routes:',
      '  - { id: r1, model: m1, targets: &shared [{ backend: a, weight: 3 }] }',
      '  - { id: r2, model: m2, targets: *shared }',
    ].join('\n');
    expect(parseConfig(documents(router)).router.routes[1]?.targets).toEqual([
      { backend: 'a', weight: 3, priority: 0 },
    ]);
  });

  it('accepts one anchor referred to by every key of a large config', () => {
    const keys = Array.from(
      { length: 150 },
      (_, index) =>
        `  - { publicId: rk_key${String(index).padStart(4, '0')}, secretSha256: "${index.toString(16).padStart(64, '0')}", tenant: t, allowedModels: ["*"], limits: *standard }`,
    );
    const policies = [
      'tenants:',
      '  - id: t',
      '    limits: &standard { requestsPerMinute: 600, requestBurst: 60 }',
      'apiKeys:',
      ...keys,
    ].join('\n');
    const config = parseConfig(documents('', policies));
    expect(config.policies.apiKeys).toHaveLength(150);
    expect(config.policies.apiKeys[149]?.limits).toMatchObject({ requestsPerMinute: 600, requestBurst: 60 });
  });

  it('bounds alias expansion (billion laughs)', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', 'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]'];
    for (const name of ['c', 'd', 'e', 'f', 'g']) {
      const previous = String.fromCharCode(name.charCodeAt(0) - 1);
      bomb.push(`${name}: &${name} [${Array.from({ length: 10 }, () => `*${previous}`).join(', ')}]`);
    }
    expect(issuesOf(documents(bomb.join('\n')))).toEqual([
      {
        source: 'r.yaml',
        path: '',
        line: 0,
        message: 'malformed YAML: aliases expand to more than 1000000 nodes',
      },
    ]);
  });

  it('refuses YAML nested too deeply to read as an issue, not a stack overflow', () => {
    const deep = [
      `routes: ${'['.repeat(20_000)}${']'.repeat(20_000)}`,
      `settings: ${'{a: '.repeat(20_000)}1${'}'.repeat(20_000)}`,
    ];
    for (const text of deep) {
      expect(issuesOf(documents(text))).toEqual([
        {
          source: 'r.yaml',
          path: '',
          line: 0,
          message: 'malformed YAML: nested too deeply to be read',
        },
      ]);
    }
  });
});
