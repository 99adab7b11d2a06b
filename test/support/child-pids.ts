import { readdirSync, readFileSync } from 'node:fs';

/**
 * Pids whose parent is `pid`, from Linux /proc (field 4 of /proc/<pid>/stat). Processes that vanish while
 * /proc is read are skipped.
 */
export function childPids(pid: number): number[] {
  const children: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${name}/stat`, 'utf8');
    } catch {
      // Exited between readdir and read: not a child any more.
      continue;
    }
    // Fields after the parenthesised command name: state, ppid, …
    const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    if (parent === pid) children.push(Number(name));
  }
  return children;
}
