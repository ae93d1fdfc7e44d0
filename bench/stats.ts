/** Small statistics for the benchmark tables: medians with their range, least-squares lines, profiles. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
}

export function spread(values: number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values) };
}

/** y = a + b·x by least squares; with one distinct x, the line through the origin and that point. */
export function fitLine(points: { x: number; y: number }[]): { a: number; b: number } {
  const xs = new Set(points.map((point) => point.x));
  if (xs.size < 2) {
    const x = median(points.map((point) => point.x));
    return { a: 0, b: x === 0 ? 0 : median(points.map((point) => point.y)) / x };
  }
  const n = points.length;
  const meanX = points.reduce((sum, point) => sum + point.x, 0) / n;
  const meanY = points.reduce((sum, point) => sum + point.y, 0) / n;
  const sxy = points.reduce((sum, point) => sum + (point.x - meanX) * (point.y - meanY), 0);
  const sxx = points.reduce((sum, point) => sum + (point.x - meanX) ** 2, 0);
  const b = sxy / sxx;
  return { a: meanY - b * meanX, b };
}

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

export interface ProfileLine {
  what: string;
  share: number;
}

/** The functions where a V8 .cpuprofile spent its samples (self time), largest first. */
export function summarizeProfile(file: string, top = 12): { seconds: number; lines: ProfileLine[] } {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; startTime: number; endTime: number };
  const totals = new Map<string, number>();
  let samples = 0;
  for (const node of profile.nodes) {
    const hits = node.hitCount ?? 0;
    if (hits === 0) continue;
    samples += hits;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = url ? ` ${url.includes('node_modules') ? url.slice(url.lastIndexOf('node_modules/') + 13) : path.basename(url)}:${lineNumber + 1}` : '';
    const what = `${functionName || '(anonymous)'}${where}`;
    totals.set(what, (totals.get(what) ?? 0) + hits);
  }
  const lines = [...totals.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([what, hits]) => ({ what, share: hits / samples }));
  return { seconds: (profile.endTime - profile.startTime) / 1e6, lines };
}
