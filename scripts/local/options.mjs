// The launcher's command line (scripts/start-local.mjs).
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';

export const USAGE = `usage: bash scripts/start.sh [--free-ports] [--router-config FILE] [--policies-config FILE]
  --free-ports             pick free ports instead of 8080, 8081, 50051, 9101 and 9102
  --router-config FILE     your router config instead of configs/router.sample.yaml, watched as it is
  --policies-config FILE   your policies config instead of configs/policies.sample.yaml, watched as it is
environment: LOCAL_VERBOSE=1 shows the services' log lines; LOCAL_RUN_DIR (default .tmp/local) is where
this run keeps its files, one run at a time
`;
/**
 * The command line. An unknown option fails rather than being ignored: `--free-port` (a typo) used to start
 * on the default ports, and fail there if they were taken, with nothing pointing at the typo.
 */
export function parseOptions(args) {
  const parsed = { freePorts: false, routerConfig: undefined, policiesConfig: undefined };
  for (let index = 0; index < args.length; index += 1) {
    const arg = args[index];
    const [name, inline] = arg.startsWith('--') && arg.includes('=') ? arg.split(/=(.*)/s) : [arg];
    if (name === '--free-ports' && inline === undefined) parsed.freePorts = true;
    else if (name === '--router-config' || name === '--policies-config') {
      const value = inline ?? args[(index += 1)];
      if (value === undefined || value === '') usageError(`${name} needs a file`);
      if (!existsSync(value)) usageError(`${name}: no file ${value}`);
      parsed[name === '--router-config' ? 'routerConfig' : 'policiesConfig'] = resolve(value);
    } else if (name === '--help' || name === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else usageError(`unknown option ${arg}`);
  }
  return parsed;
}

function usageError(message) {
  process.stderr.write(`start: ${message}\n${USAGE}`);
  process.exit(2);
}
