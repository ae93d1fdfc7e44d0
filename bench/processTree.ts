/**
 * Resident memory of a whole process tree, sampled from /proc: the root and every descendant (pg_dump, zstd,
 * aws, pg_restore...), summed at each sample; the peak is what the tree needed at once.
 */
import { readdirSync, readFileSync } from 'node:fs';

const PAGE_SIZE = 4096;

/** pid -> parent pid for every process visible now. */
function parents(): Map<number, number> {
  const map = new Map<number, number>();
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The command name (field 2) may hold spaces and parentheses: fields after the last ")" are fixed.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      map.set(pid, Number(fields[1]));
    } catch {
      // the process ended between listing and reading
    }
  }
  return map;
}

function residentBytes(pid: number): number {
  try {
    return Number(readFileSync(`/proc/${pid}/statm`, 'utf8').split(' ')[1]) * PAGE_SIZE;
  } catch {
    return 0;
  }
}

/** root and every process below it, right now. */
function treeOf(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const [pid, parent] of parents()) children.set(parent, [...(children.get(parent) ?? []), pid]);
  const tree: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.pop()!;
    tree.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return tree;
}

/** The summed RSS of root and all its descendants, right now. */
export function treeResidentBytes(root: number): number {
  return treeOf(root).reduce((total, pid) => total + residentBytes(pid), 0);
}

/**
 * Samples a tree until stopped; stop() returns the peak seen. The first ten samples come every intervalMs / 10:
 * a command that is over within a tenth of a second (the tiny sizes' rows) is still seen running, where the
 * first sample, taken as it is spawned, may find it not yet executing (an RSS of 0).
 */
export function sampleTreePeak(root: () => number | undefined, intervalMs = 100): { stop(): number } {
  let peak = 0;
  let samples = 0;
  let timer: NodeJS.Timeout | undefined;
  const sample = () => {
    const pid = root();
    if (pid !== undefined) peak = Math.max(peak, treeResidentBytes(pid));
    samples += 1;
    timer = setTimeout(sample, samples <= 10 ? intervalMs / 10 : intervalMs);
  };
  sample();
  return {
    stop: () => {
      clearTimeout(timer);
      return peak;
    },
  };
}

const CLOCK_TICKS_PER_SECOND = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process and its already-reaped children have used so far. */
export function cpuSecondsWithReapedChildren(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // utime, stime, cutime, cstime are fields 14-17 of stat; fields[0] here is field 3.
    return fields.slice(11, 15).reduce((sum, value) => sum + Number(value), 0) / CLOCK_TICKS_PER_SECOND;
  } catch {
    return 0;
  }
}

/**
 * CPU seconds a long-lived tree (a server: PostgreSQL's postmaster, MinIO) has used so far: each live process's
 * own and its reaped children's. A backend that ends between two readings moves into its parent's reaped time,
 * so the difference of two readings still counts it.
 */
export function treeCpuSeconds(root: number): number {
  return treeOf(root).reduce((total, pid) => total + cpuSecondsWithReapedChildren(pid), 0);
}

/**
 * The whole machine's CPU time since boot, all cores, in seconds (/proc/stat). `busy` is what it ran: user,
 * nice, system, irq and softirq. `stolen` is steal, the time its virtual CPUs were ready but the hypervisor
 * ran another guest: no work was done here, but everything here took longer. `total` adds idle and iowait.
 */
export function machineCpuSeconds(): { busy: number; stolen: number; total: number } {
  const [user, nice, system, idle, iowait, irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const busy = user + nice + system + irq + softirq;
  return { busy: busy / CLOCK_TICKS_PER_SECOND, stolen: steal / CLOCK_TICKS_PER_SECOND, total: (busy + idle + iowait + steal) / CLOCK_TICKS_PER_SECOND };
}

/** Parses bash's `times` output: its second line is the children's user and system time. */
export function parseBashTimes(text: string): number {
  const line = text.trim().split('\n')[1] ?? '';
  return [...line.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, [, minutes, seconds]) => sum + Number(minutes) * 60 + Number(seconds), 0);
}
