import { describe, expect, it } from 'vitest';
import type { ReportCount } from '../reports.js';
import { renderStatusPage } from './page.js';

const row = (scope: 'fleet' | 'server', cohort = 'pilot'): ReportCount => ({
  release: '1.1.0',
  cohort,
  boots: 3,
  failures: 2,
  kinds: { boot: 3, 'boot-failure': 2 },
  halted: false,
  scope,
});

const page = (reports: readonly ReportCount[]): string =>
  renderStatusPage({
    registry: undefined,
    census: undefined,
    reports,
    csrf: 'csrf',
    nonce: 'nonce',
    actionsUrl: '/_daylight/admin/actions',
    censusUrl: '/_daylight/admin/census.json',
  });

describe('the status page’s boots and rollbacks', () => {
  it('says the figures are the fleet’s when they were counted through Redis', () => {
    const html = page([row('fleet')]);
    expect(html).toMatch(/data-testid="reports-scope">Healthy and failed boots: every server \(through Redis\)/);
    expect(html).not.toContain('this server only');
  });

  it('says they are this server’s without Redis', () => {
    expect(page([row('server')])).toMatch(/data-testid="reports-scope">Healthy and failed boots: this server only/);
  });

  it('shows the other reports of this server by kind: a stale asset is seen there', () => {
    const html = page([
      { ...row('server'), kinds: { boot: 3, 'boot-failure': 2, 'stale-asset': 4, 'stale-shell': 1 } },
    ]);
    expect(html).toContain('<th>other reports (this server)</th>');
    expect(html).toMatch(/<td>stale-asset 4, stale-shell 1<\/td><\/tr>/);
  });

  it('marks the rows Redis could not be asked for when the others are the fleet’s', () => {
    const html = page([row('fleet'), row('server', 'office')]);
    expect(html).toContain('except the rows marked “this server only”');
    expect(html.match(/<i>\(this server only\)<\/i>/g)).toHaveLength(1);
  });
});
