import { readlinkSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';

/** Symlinks followed before giving up (a loop); the kernel's own limit is 40. */
const MAX_SYMLINKS = 40;

/**
 * The directories in which a change to the file at `path` shows up as an event: the directory the path
 * names, the directory of every symlink met while resolving it (replacing a link, such as a "current" link
 * to a release directory or a Kubernetes ConfigMap's "..data", is an event in the directory holding the
 * link), and the directory that really holds the file (an in-place edit of a linked file is an event there
 * only). Resolves the path one component at a time with readlink, so a missing part simply ends the walk:
 * reading the file reports it.
 */
export function configFileDirectories(path: string): string[] {
  const directories = new Set<string>();
  let target = resolve(path);
  for (let links = 0; links <= MAX_SYMLINKS; links += 1) {
    directories.add(dirname(target));
    const next = followFirstSymlink(target);
    if (next === undefined) break;
    directories.add(next.linkDirectory);
    target = next.target;
  }
  return [...directories];
}

/** `path` with its first symlink component replaced by what it points to, or undefined when it has none. */
function followFirstSymlink(path: string): { target: string; linkDirectory: string } | undefined {
  const parts = path.split(sep).filter((part) => part !== '');
  let prefix: string = sep;
  for (const [index, part] of parts.entries()) {
    prefix = join(prefix, part);
    let link: string;
    try {
      link = readlinkSync(prefix);
    } catch (error: unknown) {
      // EINVAL: not a symlink; anything else (missing, unreadable) ends the walk here.
      if ((error as NodeJS.ErrnoException).code === 'EINVAL') continue;
      return undefined;
    }
    const linkDirectory = dirname(prefix);
    return { target: resolve(linkDirectory, link, ...parts.slice(index + 1)), linkDirectory };
  }
  return undefined;
}
