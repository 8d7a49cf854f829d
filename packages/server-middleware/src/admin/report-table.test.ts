import { describe, expect, it } from 'vitest';
import type { Registry } from '../registry.js';
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

const page = (reports: readonly ReportCount[], registry?: Registry): string =>
  renderStatusPage({
    registry,
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

describe('the status page’s rollouts', () => {
  const published = {
    publishedAt: '2026-11-29T08:00:00Z',
    digest: 'd',
    shell: 'index.html',
    urgency: 'optional',
  } as const;
  const registry: Registry = {
    schema: 1,
    current: '1.1.1',
    min: '1.1.1',
    releases: { '1.1.0': published, '1.1.1': published, '1.2.0': published },
    cohorts: {
      pilot: {
        release: '1.1.0',
        rollout: { release: '1.1.0', percent: 50, key: 'user', startedAt: '2026-11-29T08:00:00Z' },
      },
      north: { release: '1.2.0' },
    },
    pins: {
      'tenant:acme': { release: '1.1.0', at: '2026-11-29T09:00:00Z', note: 'month-end close' },
      'tenant:zeta': { release: '1.2.0', at: '2026-11-29T09:30:00Z' },
    },
  };

  it('marks a cohort’s release, rollout and pin below the floor as skipped, as daylight status does', () => {
    const html = page([], registry);
    const skipped = ' <i class="bad" data-testid="below-floor">(below the floor: skipped)</i>';
    expect(html).toContain(`<tr><td>pilot</td><td>1.1.0${skipped}</td><td>1.1.0 to 50% by user${skipped}</td>`);
    expect(html).toContain('<tr><td>north</td><td>1.2.0</td>');
    expect(html).toContain('<tr><td>everyone</td><td>1.1.1</td>');
    expect(html).toContain(
      `<tr><td>tenant:acme</td><td>1.1.0${skipped}</td><td>2026-11-29 09:00:00 UTC</td><td>month-end close</td></tr>`,
    );
    expect(html).toContain('<tr><td>tenant:zeta</td><td>1.2.0</td><td>2026-11-29 09:30:00 UTC</td><td></td></tr>');
  });

  it('marks a boot row of a release below the floor as skipped, and calls the rows of everyone’s rules everyone', () => {
    // Tabs of pilot that booted 1.1.0 before the floor came, and pilot's tabs now on everyone's 1.1.1.
    const html = page([row('server'), { ...row('server'), release: '1.1.1', cohort: undefined }], registry);
    const skipped = ' <i class="bad" data-testid="below-floor">(below the floor: skipped)</i>';
    expect(html).toContain(`<tr><td>1.1.0${skipped}</td><td>pilot</td><td>3</td>`);
    expect(html).toContain('<tr><td>1.1.1</td><td>everyone</td><td>3</td>');
    expect(html).not.toContain('<td>default</td>');
  });

  it('marks nothing without a floor, and shows no pin table without pins', () => {
    const { min: _min, pins: _pins, ...unfloored } = registry;
    const html = page([], unfloored);
    expect(html).not.toContain('below the floor');
    expect(html).not.toContain('data-testid="pins"');
    expect(page([row('server')], unfloored)).not.toContain('data-testid="below-floor"');
  });
});
