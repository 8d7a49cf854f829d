/** A lazily loaded part of the app, with a stylesheet of its own: Vite puts both in chunks of their own. */
import './report.css';

declare const __BUILD__: string;

export function renderReport(into: HTMLElement): void {
  const report = document.createElement('div');
  report.className = 'report';
  report.dataset.testid = 'report';
  report.textContent = `Quarterly report (from the chunk built for ${__BUILD__})`;
  into.replaceChildren(report);
}
