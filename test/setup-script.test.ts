import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, copyFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { repoRoot } from '@api-router/testing';

// `bash scripts/setup.sh` ran `npm install --global pnpm`, which fails with EACCES for a normal user whose
// Node (Debian/Ubuntu packages) has its global prefix in /usr. Its install_pnpm must then put pnpm under
// ~/.local and use it from there, and keep the global install where the prefix is writable (root, CI).
// npm is a fake here (no registry, nothing installed on the machine): it answers `prefix --global`, logs
// each call and "installs" a pnpm that prints the version asked for. The unwritable prefix is real: as
// root (root may write anywhere) the script runs as `nobody`, otherwise the prefix is made read-only.

const BASH = '/bin/bash';
const VERSION = '9.9.9-test'; // never the pnpm on this machine's PATH, so install_pnpm must install
const work = mkdtempSync(join(tmpdir(), 'setup-pnpm-'));
chmodSync(work, 0o755);
const setupScript = join(work, 'setup.sh');
copyFileSync(join(repoRoot(), 'scripts/setup.sh'), setupScript);
const fakeBin = join(work, 'fake-bin');
mkdirSync(fakeBin);
writeFileSync(
  join(fakeBin, 'npm'),
  `#!${BASH}
set -eu
echo "npm $*" >> "$FAKE_NPM_LOG"
if [ "$1 $2" = "prefix --global" ]; then echo "$FAKE_GLOBAL_PREFIX"; exit 0; fi
prefix=$FAKE_GLOBAL_PREFIX
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) prefix=$2; shift ;;
    pnpm@*) version=\${1#pnpm@} ;;
  esac
  shift
done
mkdir -p "$prefix/bin"
printf '#!${BASH}\\necho %s\\n' "$version" > "$prefix/bin/pnpm"
chmod +x "$prefix/bin/pnpm"
`,
  { mode: 0o755 },
);

afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
  npmCalls: string[];
}

const asRoot = process.getuid?.() === 0;
const NOBODY = 65_534;

/**
 * A fresh case directory: a global prefix (lib/node_modules and bin, as npm makes them), writable or not by
 * the user the script runs as, and a HOME of that user's.
 */
function caseDirectory(name: string, globalWritable: boolean): { home: string; globalPrefix: string } {
  const directory = join(work, name);
  const globalPrefix = join(directory, 'global');
  const home = join(directory, 'home');
  for (const dir of [join(globalPrefix, 'lib/node_modules'), join(globalPrefix, 'bin'), home]) {
    mkdirSync(dir, { recursive: true });
  }
  writeFileSync(join(directory, 'npm.log'), '');
  chmodSync(join(directory, 'npm.log'), 0o666);
  if (asRoot) {
    chownSync(home, NOBODY, NOBODY);
    if (globalWritable) {
      for (const dir of ['lib/node_modules', 'bin']) chownSync(join(globalPrefix, dir), NOBODY, NOBODY);
    }
  } else if (!globalWritable) {
    for (const dir of ['lib/node_modules', 'bin']) chmodSync(join(globalPrefix, dir), 0o555);
  }
  return { home, globalPrefix };
}

/** Sources setup.sh (defines, runs nothing) and runs `script` with the fake npm first on PATH. */
function run(name: string, globalWritable: boolean, script: string): Run & { home: string } {
  const { home, globalPrefix } = caseDirectory(name, globalWritable);
  const log = join(work, name, 'npm.log');
  const env = {
    HOME: home,
    // The global prefix's bin is on PATH, as npm's own is; this machine's pnpm (another version) after it.
    PATH: `${fakeBin}:${globalPrefix}/bin:/usr/local/bin:/usr/bin:/bin`,
    FAKE_NPM_LOG: log,
    FAKE_GLOBAL_PREFIX: globalPrefix,
  };
  const command = `. ${setupScript}; ${script}`;
  const argv = Object.entries(env).map(([key, value]) => `${key}=${value}`);
  const result = asRoot
    ? spawnSync('runuser', ['-u', 'nobody', '--', 'env', '-i', ...argv, BASH, '-c', command], {
        encoding: 'utf8',
        cwd: work,
      })
    : spawnSync(BASH, ['-c', command], { encoding: 'utf8', cwd: work, env });
  const npmCalls = readFileSync(log, 'utf8').split('\n').filter(Boolean);
  return { status: result.status, stdout: result.stdout, stderr: result.stderr, npmCalls, home };
}

describe('setup.sh install_pnpm', () => {
  it('installs pnpm under ~/.local, uses it and says how to put it on PATH, when the global prefix is not writable', () => {
    const result = run(
      'unwritable',
      false,
      `before=$PATH; install_pnpm ${VERSION}; echo "pnpm=$(command -v pnpm) $(pnpm --version)"; print_path_hint "$before"`,
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.npmCalls).toEqual([
      'npm prefix --global',
      `npm install --global --prefix ${result.home}/.local pnpm@${VERSION}`,
    ]);
    expect(result.stdout).toContain('is not writable');
    expect(result.stdout).toContain(`pnpm=${result.home}/.local/bin/pnpm ${VERSION}`);
    expect(result.stdout).toContain(`export PATH="${result.home}/.local/bin:$PATH"`);
  });

  it('reuses the pnpm of an earlier run under ~/.local without installing again', () => {
    const result = run(
      'again',
      false,
      // A new shell: PATH without ~/.local/bin again.
      `before=$PATH; install_pnpm ${VERSION}; : > "$FAKE_NPM_LOG"; PATH=$before; install_pnpm ${VERSION}; pnpm --version`,
    );
    expect(result.status).toBe(0);
    expect(result.npmCalls).toEqual([]);
    expect(result.stdout.trim().split('\n').at(-1)).toBe(VERSION);
  });

  it('installs into the global prefix when it is writable (root, CI) and prints no PATH hint', () => {
    const result = run(
      'writable',
      true,
      `before=$PATH; install_pnpm ${VERSION}; echo "pnpm=$(command -v pnpm) $(pnpm --version)"; print_path_hint "$before"`,
    );
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.npmCalls).toEqual(['npm prefix --global', `npm install --global pnpm@${VERSION}`]);
    expect(result.stdout).toContain(`pnpm=${join(work, 'writable/global/bin/pnpm')} ${VERSION}`);
    expect(result.stdout).not.toContain('not writable');
    expect(result.stdout).not.toContain('export PATH');
  });
});

describe('setup.sh check_node', () => {
  /** Runs check_node in a directory whose package.json asks for Node `engines`. */
  function checkNode(engines: string): { status: number | null; stderr: string } {
    const directory = join(work, `engines-${engines.replace(/\W/g, '')}`);
    mkdirSync(directory);
    writeFileSync(join(directory, 'package.json'), JSON.stringify({ engines: { node: engines } }));
    const result = spawnSync(BASH, ['-c', `. ${setupScript}; check_node`], {
      cwd: directory,
      encoding: 'utf8',
    });
    return { status: result.status, stderr: result.stderr };
  }

  it('passes with the Node running the tests when the project asks for this major version', () => {
    expect(checkNode(`>=${process.versions.node.split('.')[0]}.0`)).toEqual({ status: 0, stderr: '' });
  });

  it('fails with the version needed and the one found, rather than later with a syntax or API error', () => {
    const { status, stderr } = checkNode('>=99.1');
    expect(status).toBe(1);
    expect(stderr).toContain(`Node.js 99.1 or newer is needed; this is ${process.version}`);
  });
});
