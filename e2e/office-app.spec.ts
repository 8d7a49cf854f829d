/**
 * The demo app's own promise, "nothing lost", in its own navigation: what a
 * person typed into the invoice stays when they look at Reports and come
 * back, and a switch taken from Reports still restores it.
 */
import { test, expect, watch, signIn, ready, banner, version } from './support/fixtures.js';

test('typed input survives the header links: Invoice → Reports → Invoice keeps it, and a switch from Reports restores it', async ({
  page,
  office,
}) => {
  const seen = watch(page);
  await signIn(page, office.url, seen);
  await page.locator('#f-customer').fill('half an invoice');
  await page.locator('#f-description').fill('Twelve desks,\nthree lamps');

  await page.getByRole('link', { name: 'Reports' }).click();
  await expect(page.getByTestId('reports')).toBeVisible();
  await page.getByRole('link', { name: 'Invoice', exact: true }).click();
  await expect(page.locator('#f-customer')).toHaveValue('half an invoice');
  await expect(page.locator('#f-description')).toHaveValue('Twelve desks,\nthree lamps');

  // On Reports the form is out of the page; the switch's snapshot must still hold what was typed.
  await page.getByRole('link', { name: 'Reports' }).click();
  await expect(page.getByTestId('reports')).toBeVisible();
  await office.promote('1.1.0');
  await ready(page, '1.1.0');
  await banner(page).getByRole('button', { name: 'Update now' }).click();
  await expect(version(page)).toHaveText('1.1.0');
  await expect(page.getByTestId('reports')).toBeVisible();
  await page.getByRole('link', { name: 'Invoice', exact: true }).click();
  await expect(page.locator('#f-customer')).toHaveValue('half an invoice');
  await expect(page.locator('#f-description')).toHaveValue('Twelve desks,\nthree lamps');
  await expect(page.getByTestId('user')).toHaveText('signed in as ada');
  expect(seen.navigations).toHaveLength(2);
  expect(seen.failedApi).toEqual([]);
  expect(seen.pageErrors).toEqual([]);
});
