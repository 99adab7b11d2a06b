// Golden tests of config → snapshot compilation, in the style of envoyproxy/gateway's
// internal/gatewayapi/testdata: each directory of ../testdata holds router.yaml and policies.yaml, plus
// either snapshot.golden.json (toJson of the compiled snapshot) or errors.golden.json (the ConfigIssue list).
//
// To (re)write the golden files after an intended change, run:
//   UPDATE_GOLDEN=1 pnpm exec vitest run --project unit packages/policy/src/config-golden.test.ts
// and review the diff. Directories named "invalid-*" must fail to parse, the others must compile.
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { toJson } from '@bufbuild/protobuf';
import { PolicySnapshotSchema } from '@api-router/contracts';
import { describe, expect, it } from 'vitest';
import { compileRuntimePolicy } from './compile-runtime-policy.js';
import { compileSnapshot } from './compile-snapshot.js';
import { ConfigInvalidError } from './config-issue.js';
import { parseConfig } from './parse-config.js';

const TESTDATA = fileURLToPath(new URL('../testdata/', import.meta.url));
const UPDATE = process.env.UPDATE_GOLDEN === '1';
const SNAPSHOT_GOLDEN = 'snapshot.golden.json';
const ERRORS_GOLDEN = 'errors.golden.json';

const cases = readdirSync(TESTDATA, { withFileTypes: true })
  .filter((entry) => entry.isDirectory())
  .map((entry) => entry.name)
  .sort();

function runCase(name: string): { file: string; value: unknown } {
  const directory = join(TESTDATA, name);
  const read = (file: string) => ({ source: file, text: readFileSync(join(directory, file), 'utf8') });
  try {
    const config = parseConfig({ router: read('router.yaml'), policies: read('policies.yaml') });
    const snapshot = compileSnapshot(config, {
      version: 1n,
      sourceRevision: `file:testdata/${name}`,
      createdAt: new Date('2025-01-01T00:00:00Z'),
    });
    // Every compiled snapshot must also be accepted by the data plane's validation.
    compileRuntimePolicy(snapshot);
    return { file: SNAPSHOT_GOLDEN, value: toJson(PolicySnapshotSchema, snapshot) };
  } catch (error: unknown) {
    if (!(error instanceof ConfigInvalidError)) throw error;
    return { file: ERRORS_GOLDEN, value: error.issues };
  }
}

describe('config golden files', () => {
  it('has cases', () => {
    expect(cases.length).toBeGreaterThan(0);
  });

  it.each(cases)('%s', (name) => {
    const { file, value } = runCase(name);
    expect(file).toBe(name.startsWith('invalid-') ? ERRORS_GOLDEN : SNAPSHOT_GOLDEN);
    const goldenPath = join(TESTDATA, name, file);
    const actual = `${JSON.stringify(value, null, 2)}\n`;
    if (UPDATE) {
      writeFileSync(goldenPath, actual);
      const other = join(TESTDATA, name, file === SNAPSHOT_GOLDEN ? ERRORS_GOLDEN : SNAPSHOT_GOLDEN);
      rmSync(other, { force: true });
    }
    expect(existsSync(goldenPath), `${goldenPath} missing: run with UPDATE_GOLDEN=1`).toBe(true);
    expect(actual).toBe(readFileSync(goldenPath, 'utf8'));
  });
});
