/**
 * The status page's HTML, rendered on the server from the registry, the
 * census and the boot reports. The only script is the one that sends the
 * actions (with the CSRF token and the custom header); it runs under a
 * nonce-based Content-Security-Policy.
 */
import type { CensusSnapshot } from '../census/census.js';
import type { ReportCount } from '../reports.js';
import { belowFloorNote } from '../resolve.js';
import type { Registry, TargetRules } from '../registry.js';
import { sessionsChart } from './chart.js';
import { escapeHtml as e } from './html.js';

export interface PageInput {
  readonly registry: Registry | undefined;
  readonly census: CensusSnapshot | undefined;
  /** Why the census is missing, when it is. */
  readonly censusProblem?: string;
  /** Why this server could not take the store's registry, when it could not: it serves `registry`, an older one. */
  readonly registryProblem?: string;
  readonly reports: readonly ReportCount[];
  readonly csrf: string;
  readonly nonce: string;
  /** Where the actions go: `{base}/admin/actions`. */
  readonly actionsUrl: string;
  readonly censusUrl: string;
}

function time(at: number | string | undefined): string {
  if (at === undefined) return '';
  const date = new Date(at);
  return Number.isFinite(date.getTime()) ? `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC` : '';
}

function row(cells: readonly string[], tag = 'td'): string {
  return `<tr>${cells.map((cell) => `<${tag}>${cell}</${tag}>`).join('')}</tr>`;
}

/**
 * ` (below the floor: skipped)` after a cohort's release, rollout or pin under the floor `min`: the registry still
 * lists it, but the server skips it and those clients follow the next rule (`daylight status` says it in the same words).
 */
function skipped(version: string, min: string | undefined): string {
  const note = belowFloorNote(version, min);
  return note === undefined ? '' : ` <i class="bad" data-testid="below-floor">${note}</i>`;
}

function rules(name: string, release: string | null, target: TargetRules, min: string | undefined): string {
  const rollout = target.rollout;
  const halted = target.halted;
  return row([
    e(name),
    release === null ? '<i>follows everyone</i>' : e(release) + skipped(release, min),
    rollout === undefined
      ? ''
      : `${e(rollout.release)} to ${rollout.percent}% by ${e(rollout.key)}${halted?.release === rollout.release ? ' <b class="bad">halted</b>' : ''}${skipped(rollout.release, min)}`,
    halted === undefined
      ? ''
      : `<span class="bad">${e(halted.release)} halted ${e(time(halted.at))}: ${e(halted.reason)}</span>`,
    e((target.previous ?? []).join(', ')),
  ]);
}

/** The tenants and users held on a release (`daylight pin`), which no promote moves. */
function pinTable(registry: Registry): string {
  const pins = Object.entries(registry.pins ?? {}).sort(([a], [b]) => (a < b ? -1 : 1));
  if (pins.length === 0) return '';
  return [
    '<table data-testid="pins">',
    row(['pinned', 'release', 'since', 'note'], 'th'),
    ...pins.map(([key, pin]) =>
      row([e(key), e(pin.release) + skipped(pin.release, registry.min), e(time(pin.at)), e(pin.note ?? '')]),
    ),
    '</table>',
  ].join('\n');
}

function rolloutTable(registry: Registry | undefined): string {
  if (registry === undefined) return '<p>No registry has been read yet.</p>';
  const rows = [rules('everyone', registry.current, registry, registry.min)];
  for (const [name, cohort] of Object.entries(registry.cohorts ?? {}).sort(([a], [b]) => (a < b ? -1 : 1))) {
    rows.push(rules(name, cohort.release, cohort, registry.min));
  }
  return [
    `<p>current <b data-testid="current">${e(registry.current ?? 'none')}</b>, floor ${e(registry.min ?? 'none')}, revision ${registry.revision ?? 0}, published: ${e(Object.keys(registry.releases).join(', ') || 'none')}</p>`,
    '<table data-testid="rollouts">',
    row(['cohort', 'release', 'rollout', 'halted', 'previous'], 'th'),
    ...rows,
    '</table>',
    pinTable(registry),
  ].join('\n');
}

function censusTable(census: CensusSnapshot | undefined, problem: string | undefined): string {
  if (census === undefined) return `<p class="bad">The census cannot be read: ${e(problem ?? 'it is off')}.</p>`;
  const head = `<p>${census.scope === 'fleet' ? 'Every server (through Redis)' : 'This server'}, counting since ${e(time(census.observingSince))}; each count is within ±${(census.standardError * 100).toFixed(2)} % (one standard error).</p>`;
  if (census.series.length === 0) return `${head}<p data-testid="census-empty">No sessions seen yet.</p>`;
  return [
    head,
    '<table data-testid="census">',
    row(['release', 'cohort', '5 min', '1 hour', '24 hours', 'last seen'], 'th'),
    ...census.series.map((series) =>
      row([
        e(series.release),
        e(series.cohort),
        String(series.sessions['5m']),
        String(series.sessions['1h']),
        String(series.sessions['24h']),
        e(time(series.lastSeen)),
      ]),
    ),
    '</table>',
  ].join('\n');
}

/** Says where the boots and failures were counted: the fleet's (through Redis) or this server's. */
function reportScope(reports: readonly ReportCount[]): string {
  const fleet = reports.filter((report) => report.scope === 'fleet').length;
  const what =
    fleet === reports.length
      ? 'Healthy and failed boots: every server (through Redis), as this server last read them — the figures automatic halts are decided on.'
      : fleet === 0
        ? 'Healthy and failed boots: this server only (each server counts its own).'
        : 'Healthy and failed boots: every server (through Redis), except the rows marked “this server only”, which Redis could not be asked for.';
  return `<p data-testid="reports-scope">${what} Rows are the releases and cohorts this server received reports for; “halt asked” is this server's. A boot counts under the rules that gave the tab its release, where a halt would stop it: a cohort's own release or rollout, or everyone's, for a cohort without one of its own or whose own is below the floor.</p>`;
}

/**
 * The reports that are neither a boot nor a failed boot, by kind: a `stale-asset` (a lazy chunk that did not load
 * and nothing newer to switch to), a `stale-shell` (a cache that keeps the old HTML), `integrity`, `loop-guard`.
 */
function otherReports(report: ReportCount): string {
  return Object.entries(report.kinds)
    .filter(([kind, count]) => kind !== 'boot' && kind !== 'boot-failure' && count !== undefined && count > 0)
    .map(([kind, count]) => `${e(kind)} ${String(count)}`)
    .join(', ');
}

function reportTable(reports: readonly ReportCount[], min: string | undefined): string {
  if (reports.length === 0) return '<p>No boots reported yet.</p>';
  const mixed =
    reports.some((report) => report.scope === 'fleet') && reports.some((report) => report.scope !== 'fleet');
  return [
    reportScope(reports),
    '<table data-testid="reports">',
    row(
      ['release', 'cohort', 'healthy boots', 'failed boots (rolled back)', 'halt asked', 'other reports (this server)'],
      'th',
    ),
    ...reports.map((report) =>
      row([
        e(report.release) + skipped(report.release, min),
        e(report.cohort ?? 'everyone'),
        String(report.boots),
        (report.failures > 0 ? `<span class="bad">${report.failures}</span>` : '0') +
          (mixed && report.scope !== 'fleet' ? ' <i>(this server only)</i>' : ''),
        report.halted ? '<b class="bad">yes</b>' : '',
        otherReports(report),
      ]),
    ),
    '</table>',
  ].join('\n');
}

function actionForms(registry: Registry | undefined): string {
  const versions = Object.keys(registry?.releases ?? {});
  const cohorts = Object.keys(registry?.cohorts ?? {});
  const releaseList = `<datalist id="releases">${versions.map((v) => `<option value="${e(v)}">`).join('')}</datalist>`;
  const cohortList = `<datalist id="cohorts">${cohorts.map((c) => `<option value="${e(c)}">`).join('')}</datalist>`;
  const cohortInput = '<input name="cohort" list="cohorts" placeholder="cohort (empty: everyone)" size="22">';
  return `${releaseList}${cohortList}
<form data-action="promote"><b>Promote / widen</b> <input name="version" list="releases" placeholder="version" required size="10"> ${cohortInput} <input name="percent" type="number" min="0" max="100" step="0.01" placeholder="% (100)" size="6"> <button>Promote</button></form>
<form data-action="halt"><b>Halt</b> <input name="release" list="releases" placeholder="release" required size="10"> ${cohortInput} <input name="reason" placeholder="reason" required size="24"> <button>Halt</button></form>
<form data-action="rollback"><b>Roll back</b> ${cohortInput} <button>Roll back</button></form>
<p id="action-result" role="status" data-testid="action-result"></p>`;
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#111827;max-width:960px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}table{border-collapse:collapse;margin:8px 0}
th,td{border-bottom:1px solid #e5e7eb;padding:4px 10px;text-align:left}td:nth-child(n+3){font-variant-numeric:tabular-nums}
.bad{color:#b91c1c}form{margin:6px 0}input{font:inherit}button{font:inherit;cursor:pointer}`;

function script(csrf: string, actionsUrl: string): string {
  return `
for (const form of document.querySelectorAll('form[data-action]')) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const out = document.getElementById('action-result');
    const body = { action: form.dataset.action };
    for (const [name, value] of new FormData(form)) if (value !== '') body[name] = name === 'percent' ? Number(value) : value;
    out.textContent = 'working…';
    try {
      const response = await fetch(${JSON.stringify(actionsUrl)}, {
        method: 'POST',
        credentials: 'same-origin',
        headers: { 'Content-Type': 'application/json', 'X-Daylight-Admin': '1', 'X-Daylight-CSRF': ${JSON.stringify(csrf)} },
        body: JSON.stringify(body),
      });
      const answer = await response.json().catch(() => ({}));
      out.textContent = response.ok ? answer.summary : 'refused: ' + (answer.detail ?? response.status);
      if (response.ok && answer.changed) setTimeout(() => location.reload(), 800);
    } catch (error) {
      out.textContent = 'failed: ' + error;
    }
  });
}`;
}

/** The whole page. */
export function renderStatusPage(input: PageInput): string {
  const census = input.census;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex">
<title>Daylight status</title>
<style nonce="${input.nonce}">${STYLE}</style>
</head>
<body>
<h1>Daylight status</h1>
${
  input.registryProblem === undefined
    ? ''
    : `<p class="bad" data-testid="registry-problem">This server serves the last registry it could use, shown below, not the store's: ${e(input.registryProblem)}. Changes made since (halts, pins, the floor) do not reach it until that is fixed.</p>`
}
<h2>Rollouts</h2>
${rolloutTable(input.registry)}
<h2>Live sessions</h2>
${census === undefined ? '' : sessionsChart(census.timeline)}
${censusTable(census, input.censusProblem)}
<p><a href="${e(input.censusUrl)}">census.json</a></p>
<h2>Boots and rollbacks</h2>
${reportTable(input.reports, input.registry?.min)}
<h2>Actions</h2>
${actionForms(input.registry)}
<script nonce="${input.nonce}">${script(input.csrf, input.actionsUrl)}</script>
</body>
</html>
`;
}
