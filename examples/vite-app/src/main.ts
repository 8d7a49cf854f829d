/**
 * A Vite app with Daylight: the same client as the office app, in a build whose lazy chunk brings a stylesheet.
 * vite.config.mjs has the one setting this needs (`base: './'`).
 */
import { createDaylight } from '@daylight/client';
import { mountBanner } from '@daylight/client/banner';
import { recoverChunkErrors } from '@daylight/client/recovery';
import './main.css';

interface Snapshot {
  readonly note: string;
}

const note = document.querySelector<HTMLTextAreaElement>('#note')!;
const status = document.querySelector<HTMLElement>('#daylight-status')!;
const daylight = createDaylight({ snapshot: (): Snapshot => ({ note: note.value }) });
// A lazy chunk that does not load (its release's files were removed meanwhile) is a sign that the server moved on:
// Vite's `vite:preloadError` and the browser's failed import() make the tab check, and switch if there is a newer
// release (with the note kept), instead of showing a broken page.
recoverChunkErrors(daylight);
daylight.start();
mountBanner(daylight);

const restored = daylight.restored as Snapshot | undefined;
if (restored) note.value = restored.note;
document.querySelector('[data-testid="release"]')!.textContent = daylight.state.running ?? 'no release';
daylight.addEventListener('statechange', () => {
  const { status: now, target, progress } = daylight.state;
  status.textContent =
    now === 'downloading' && progress
      ? `downloading ${target ?? ''}: ${Math.round((100 * progress.loaded) / Math.max(progress.total, 1))} %`
      : now === 'ready'
        ? `${target ?? ''} is downloaded and verified`
        : '';
});

document.querySelector('#open-report')!.addEventListener('click', () => {
  import('./report.js')
    .then(({ renderReport }) => renderReport(document.querySelector('#report')!))
    .catch((error: Error) => {
      document.querySelector('#report')!.textContent = `The report did not load: ${error.message}`;
    });
});

// An API call every few seconds, through daylight.fetch: each answer says which release this tab should run.
const every = Number(new URLSearchParams(location.search).get('poll') ?? 5000);
async function refresh(): Promise<void> {
  try {
    const answer = await daylight.fetch('/api/time');
    const { time } = (await answer.json()) as { time: string };
    document.querySelector('#server-time')!.textContent = `Server time: ${time}`;
  } catch {
    // Offline for a moment: the next call tries again.
  }
  setTimeout(() => void refresh(), every);
}
void refresh();
daylight.ready();
