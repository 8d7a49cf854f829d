/** A lazily loaded route: its chunk is fetched only when someone opens Reports. */
export function reportsView(atlasSize: number): HTMLElement {
  const section = document.createElement('section');
  const title = document.createElement('h2');
  title.textContent = 'Reports';
  const text = document.createElement('p');
  text.dataset.testid = 'reports';
  text.textContent = `Quarterly figures are ready. (Reference data: ${atlasSize.toLocaleString()} bytes.)`;
  section.append(title, text);
  return section;
}
