// One launcher per run directory (scripts/start-local.mjs): two runs sharing it overwrite each other's
// files (router.yaml, which the first run's control plane watches, endpoints, caches).
import { existsSync, linkSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shellWord, shownPath } from './shell-text.mjs';

/**
 * The lock of `runDir` (`launcher.pid`: the pid of the launcher using it) and the record of the services it
 * started (`services.pids`: `<pid> <entry>` each). The services run in process groups of their own, so a
 * launcher killed with SIGKILL (or by the OOM killer) leaves them running, holding the ports and the files
 * of the run directory (the control plane's state, the data plane's outbox and cache): the next start
 * names them.
 */
export class RunLock {
  #runDir;
  #lockFile;
  #servicesFile;

  constructor(runDir) {
    this.#runDir = runDir;
    this.#lockFile = join(runDir, 'launcher.pid');
    this.#servicesFile = join(runDir, 'services.pids');
  }

  /**
   * Takes the lock for this run, atomically: the pid is written to a file of our own, then hard-linked to
   * the lock's name, which fails when the name exists (never a half-written lock). A lock whose launcher is
   * gone (killed with SIGKILL, the machine rebooted) is moved aside and taken.
   * @throws Error naming the running launcher's pid when another one holds the lock
   */
  take() {
    const lockFile = this.#lockFile;
    const ours = `${lockFile}.${process.pid}`;
    writeFileSync(ours, `${process.pid}\n`);
    try {
      for (;;) {
        try {
          linkSync(ours, lockFile);
          return;
        } catch (error) {
          if (error.code !== 'EEXIST') throw error;
        }
        const holder = readPid(lockFile);
        if (holder !== undefined && isLauncher(holder)) throw this.#lockedError(holder);
        // Stale. Moved aside under a name of our own, then checked again: another launcher may have put its
        // own lock there since we read it; if so it goes back, and that launcher is the one running.
        const aside = `${lockFile}.stale.${process.pid}`;
        try {
          renameSync(lockFile, aside);
        } catch (error) {
          if (error.code === 'ENOENT') continue;
          throw error;
        }
        const moved = readPid(aside);
        if (moved !== holder && moved !== undefined && isLauncher(moved)) {
          try {
            linkSync(aside, lockFile);
          } finally {
            unlinkSync(aside);
          }
          throw this.#lockedError(moved);
        }
        unlinkSync(aside);
      }
    } finally {
      unlinkSync(ours);
    }
  }

  /** Removes the lock when it is still ours (a launcher refused by the lock never held it). */
  release() {
    if (readPid(this.#lockFile) !== process.pid) return;
    // Kept while a service outlived us (it ignored SIGTERM): the next start then names it.
    if (this.#leftServices().length === 0) rmSync(this.#servicesFile, { force: true });
    unlinkSync(this.#lockFile);
  }

  /** Records the services started so far (`children`: `{ child, entry }`), for the next run. */
  recordServices(children) {
    const lines = children.map(({ child, entry }) => `${child.pid} ${entry}\n`);
    writeFileSync(this.#servicesFile, lines.join(''));
  }

  /**
   * Fails when the run that held the directory before was killed but its services were not: the new ones
   * would share their ports and files.
   */
  checkLeftServices() {
    const left = this.#leftServices();
    if (left.length === 0) return;
    const pids = left.map(({ pid }) => pid).join(' ');
    throw new Error(
      `the last start on ${shownPath(this.#runDir)} was killed and left its services running ` +
        `(${left.map(({ pid, entry }) => `${pid} ${entry}`).join(', ')}); stop them first: kill ${pids}`,
    );
  }

  /** The recorded services still running (their pid runs their entry: not a pid reused since). */
  #leftServices() {
    let text;
    try {
      text = readFileSync(this.#servicesFile, 'utf8');
    } catch (error) {
      if (error.code === 'ENOENT') return [];
      throw error;
    }
    return text.split('\n').flatMap((line) => {
      const [pid, entry] = line.split(' ');
      if (entry === undefined) return [];
      try {
        return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(entry) ? [{ pid, entry }] : [];
      } catch {
        // Gone, or no /proc (macOS): not known to be left.
        return [];
      }
    });
  }

  #lockedError(pid) {
    const shownDir = shownPath(this.#runDir);
    return new Error(
      `another start (pid ${pid}) is running with ${shownDir}; stop it first (Ctrl-C in its terminal, or ` +
        `kill ${pid}), or run this one with a directory of its own: ` +
        `LOCAL_RUN_DIR=${shellWord(`${shownDir}-2`)} bash scripts/start.sh --free-ports`,
    );
  }
}

/** The pid written in `file`, or undefined when it is gone or holds no pid. */
function readPid(file) {
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  }
  const pid = Number(text.trim());
  return Number.isSafeInteger(pid) && pid > 0 ? pid : undefined;
}

/**
 * Whether `pid` is a running launcher. A live pid whose command line (Linux /proc) is not this script's is
 * a pid reused since the launcher that wrote it died.
 */
function isLauncher(pid) {
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
  } catch (error) {
    // EPERM: alive, but another user's; counted as running rather than taken over.
    if (error.code !== 'EPERM') return false;
  }
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('start-local.mjs');
  } catch {
    // No /proc (macOS), or the process ended meanwhile: alive as far as kill(0) could tell.
    return existsSync(`/proc/${pid}`) || !existsSync('/proc/self');
  }
}
