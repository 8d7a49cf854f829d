/**
 * The status page's chart: live sessions per release over the last hour, as
 * inline SVG (no script, no dependency). One polyline per release.
 */
import type { CensusPoint } from '../census/census.js';
import { escapeHtml } from './html.js';

const WIDTH = 640;
const HEIGHT = 180;
const PAD = { left: 44, right: 110, top: 12, bottom: 24 };
const COLOURS = ['#2563eb', '#d97706', '#059669', '#dc2626', '#7c3aed', '#0891b2', '#be185d', '#4b5563'];

function clock(at: number): string {
  return new Date(at).toISOString().slice(11, 16);
}

/** An `<svg>` drawing sessions per release per point; an empty-state text when there is nothing to draw. */
export function sessionsChart(points: readonly CensusPoint[]): string {
  const releases = [...new Set(points.flatMap((point) => Object.keys(point.sessions)))].sort();
  const max = Math.max(1, ...points.flatMap((point) => Object.values(point.sessions)));
  const plotW = WIDTH - PAD.left - PAD.right;
  const plotH = HEIGHT - PAD.top - PAD.bottom;
  const x = (i: number): number => PAD.left + (points.length <= 1 ? plotW : (plotW * i) / (points.length - 1));
  const y = (value: number): number => PAD.top + plotH - (plotH * value) / max;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${HEIGHT}" width="${WIDTH}" height="${HEIGHT}" role="img" aria-label="Live sessions per release, last hour" data-testid="sessions-chart">`,
    `<line x1="${PAD.left}" y1="${PAD.top + plotH}" x2="${PAD.left + plotW}" y2="${PAD.top + plotH}" stroke="#9ca3af"/>`,
    `<line x1="${PAD.left}" y1="${PAD.top}" x2="${PAD.left}" y2="${PAD.top + plotH}" stroke="#9ca3af"/>`,
    `<text x="${PAD.left - 6}" y="${PAD.top + 4}" text-anchor="end" font-size="11">${max}</text>`,
    `<text x="${PAD.left - 6}" y="${PAD.top + plotH}" text-anchor="end" font-size="11">0</text>`,
  ];
  if (points.length > 0) {
    parts.push(
      `<text x="${PAD.left}" y="${HEIGHT - 6}" font-size="11">${clock(points[0]!.at)}</text>`,
      `<text x="${PAD.left + plotW}" y="${HEIGHT - 6}" text-anchor="end" font-size="11">${clock(points.at(-1)!.at)} UTC</text>`,
    );
  }
  if (releases.length === 0) {
    parts.push(
      `<text x="${PAD.left + plotW / 2}" y="${PAD.top + plotH / 2}" text-anchor="middle" font-size="13" fill="#6b7280">no sessions in the last hour</text>`,
    );
  }
  releases.forEach((release, n) => {
    const colour = COLOURS[n % COLOURS.length]!;
    const coords = points.map((point, i) => `${x(i).toFixed(1)},${y(point.sessions[release] ?? 0).toFixed(1)}`);
    parts.push(
      `<polyline fill="none" stroke="${colour}" stroke-width="2" points="${coords.join(' ')}" data-release="${escapeHtml(release)}"/>`,
    );
    const last = points.at(-1)?.sessions[release] ?? 0;
    parts.push(
      `<text x="${PAD.left + plotW + 8}" y="${PAD.top + 14 + n * 16}" font-size="12" fill="${colour}">${escapeHtml(release)} (${last})</text>`,
    );
  });
  parts.push('</svg>');
  return parts.join('');
}
