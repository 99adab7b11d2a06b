import { describe, expect, it } from 'vitest';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { compileSnapshot } from './compile-snapshot.js';
import { hashSecret } from './hash-secret.js';
import { parseConfig } from './parse-config.js';
import { generateSyntheticConfig, syntheticApiKey, syntheticApiKeyPublicId } from './synthetic-config.js';

describe('generateSyntheticConfig', () => {
  it.each([
    { keys: 0, backends: 0, routes: 0 },
    { keys: 1, backends: 1, routes: 1 },
    { keys: 250, backends: 3, routes: 7 },
    { keys: 1000, backends: 50, routes: 20 },
  ])('generates a valid config of the requested size (%o)', (size) => {
    const documents = generateSyntheticConfig(size);
    const config = parseConfig(documents);
    expect(config.router.backends).toHaveLength(size.backends);
    expect(config.router.routes).toHaveLength(size.routes);
    expect(config.policies.apiKeys).toHaveLength(size.keys);
    const policy = compileRuntimePolicy(
      compileSnapshot(config, { version: 1n, sourceRevision: 's', createdAt: new Date(0) }),
    );
    expect(policy.apiKeysByPublicId.size).toBe(size.keys);
  });

  it('is deterministic and documents the plaintext of its keys', () => {
    const size = { keys: 5, backends: 2, routes: 2 };
    expect(generateSyntheticConfig(size)).toEqual(generateSyntheticConfig(size));
    const config = parseConfig(generateSyntheticConfig(size));
    const key = config.policies.apiKeys.find((entry) => entry.publicId === syntheticApiKeyPublicId(3));
    expect(key?.secretSha256).toBe(hashSecret(syntheticApiKey(3)));
  });

  it('rejects impossible sizes', () => {
    expect(() => generateSyntheticConfig({ keys: -1, backends: 1, routes: 1 })).toThrow(RangeError);
    expect(() => generateSyntheticConfig({ keys: 1.5, backends: 1, routes: 1 })).toThrow(RangeError);
    expect(() => generateSyntheticConfig({ keys: 1, backends: 0, routes: 1 })).toThrow(
      'routes need at least one backend',
    );
  });
});
