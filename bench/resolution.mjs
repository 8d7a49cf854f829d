// Resolution cost per request: which release a request gets, with 10,000
// cohorts, 50 releases, 1,000 pins and a rollout of everyone in progress —
// against two baselines in the same run: an empty function of the same
// request, and one Map lookup of its cohort. Reports ns per request (median of
// rounds, with min–max). Target: about a microsecond or less, whatever the
// number of releases. Also the other per-request cost that grows with the
// fleet: parsing each session's own Daylight-Client header — the form the
// SDK sends, against the same values in another valid order (the general
// structured-field parser).
//
//   npm run bench:resolution          (ROUNDS=15 REQUESTS=1000000 by default)
import { parseClientHeader } from '@daylight/protocol';
import { compilePlan, resolveRelease } from '@daylight/server-middleware';
import { performance } from 'node:perf_hooks';
import { machine, median, writeSection } from './lib.mjs';

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const REQUESTS = Number(process.env.REQUESTS ?? 1_000_000);
const COHORTS = 10_000;
const RELEASES = 50;

const published = {
  publishedAt: '2026-11-27T09:00:00.000Z',
  digest: `sha384-${'A'.repeat(64)}`,
  shell: 'index.html',
  urgency: 'optional',
};
const versions = Array.from({ length: RELEASES }, (_, i) => `1.${i}.0`);
const releases = Object.fromEntries(versions.map((v) => [v, published]));
const cohorts = {};
for (let i = 0; i < COHORTS; i++) {
  const release = versions[i % RELEASES];
  cohorts[`office-${i}`] =
    i % 3 === 0
      ? {
          release,
          rollout: {
            release: versions[(i + 1) % RELEASES],
            percent: 25,
            key: 'tenant',
            startedAt: published.publishedAt,
          },
        }
      : { release };
}
const pins = {};
for (let i = 0; i < 1000; i++)
  pins[`user:user-${i * 97}`] = { release: versions[i % RELEASES], at: published.publishedAt };
const registry = {
  schema: 1,
  current: versions[0],
  releases,
  cohorts,
  pins,
  rollout: { release: versions[1], percent: 10, key: 'tenant', startedAt: published.publishedAt },
};
const compileStarted = performance.now();
const plan = compilePlan(registry);
const compileMs = performance.now() - compileStarted;
const KEYS = ['user', 'tenant'];

// 4,096 distinct requests, as the server sees them: a cohort (some unknown), a user and a tenant.
const requests = Array.from({ length: 4096 }, (_, i) => {
  const cohort = i % 10 === 9 ? `elsewhere-${i}` : `office-${(i * 7919) % COHORTS}`;
  const keys = { user: `user-${(i * 31) % 100_000}`, tenant: `tenant-${i % 997}` };
  return { cohort, key: (name) => keys[name] };
});

// 4,096 sessions' headers, as the SDK writes them and as another client might.
const sessions = Array.from({ length: 4096 }, (_, i) => ({
  v: versions[i % RELEASES],
  s: `${(i * 2654435761).toString(36)}-session-${i}`.slice(0, 24),
}));
const sdkHeaders = sessions.map(({ v, s }) => `v="${v}", s="${s}"`);
const otherHeaders = sessions.map(({ v, s }) => `s="${s}", v="${v}"`);

const variants = {
  'empty function (baseline)': (facts) => facts.cohort.length,
  'Map lookup of the cohort (baseline)': (facts) => plan.cohorts.get(facts.cohort),
  'resolveRelease (pins, cohort, rollout hash)': (facts) => resolveRelease(plan, facts, KEYS),
};
const headerVariants = {
  'Daylight-Client as the SDK sends it': (i) => parseClientHeader(sdkHeaders[i]),
  'the same values in another order (general parser)': (i) => parseClientHeader(otherHeaders[i]),
};

function measure(fn, input = (i) => requests[i]) {
  let sink = 0;
  const started = process.hrtime.bigint();
  for (let i = 0; i < REQUESTS; i++) {
    const result = fn(input(i & 4095));
    if (result !== undefined && result !== null) sink++;
  }
  const ns = Number(process.hrtime.bigint() - started) / REQUESTS;
  if (sink < 0) console.log(sink);
  return ns;
}

/** Rounds of every variant, rotated each round: ns per call by variant. */
function sample(fns, input) {
  const samples = Object.fromEntries(Object.keys(fns).map((name) => [name, []]));
  for (const fn of Object.values(fns)) measure(fn, input); // warm up
  for (let round = 0; round < ROUNDS; round++) {
    const names = Object.keys(fns);
    for (let i = 0; i < names.length; i++) {
      const name = names[(i + round) % names.length];
      samples[name].push(measure(fns[name], input));
    }
  }
  return samples;
}

const fmt = (ns) => `${ns.toFixed(1)} ns`;
const table = (samples) =>
  Object.entries(samples).map(([name, values]) => {
    const sorted = [...values].sort((a, b) => a - b);
    return `| ${name} | ${fmt(median(values))} | ${fmt(sorted[0])} – ${fmt(sorted.at(-1))} |`;
  });
const samples = sample(variants);
const rows = table(samples);
const headerRows = table(sample(headerVariants, (i) => i));
const resolution = median(samples['resolveRelease (pins, cohort, rollout hash)']);
const body = `## Resolution per request

\`npm run bench:resolution\` — ${machine()}. ${COHORTS.toLocaleString('en')} cohorts (a third with a 25 % rollout),
${RELEASES} releases, 1,000 pins and a 10 % rollout of everyone; 4,096 distinct requests in turn;
${ROUNDS} rounds of ${REQUESTS.toLocaleString('en')} requests, variants rotated each round. Compiling the registry took ${compileMs.toFixed(1)} ms (once per change).

| per request | median | min – max |
| --- | ---: | ---: |
${rows.join('\n')}

Target: about 1 µs or less. Result: ${fmt(resolution)} — ${resolution <= 1000 ? 'met' : 'NOT met'}.

Parsing the \`Daylight-Client\` header, 4,096 sessions' values in turn (the server caches parsed values, up to
10,000 per registry change, but a fleet of more sessions than that misses the cache, so a miss has to be cheap):

| per request | median | min – max |
| --- | ---: | ---: |
${headerRows.join('\n')}`;
console.log(body);
await writeSection('resolution', body);
