import { defineConfig } from 'vite';

export default defineConfig({
  // The one setting Daylight needs. Daylight serves each release from its own folder
  // (/_daylight/releases/<version>/files/…) and rewrites the shell's <script> and <link> to it, but the URLs the
  // bundle computes at run time — Vite's preload of a lazy chunk's stylesheet and imports — follow `base`. With the
  // default '/' they point at /assets/…, outside the release, and a lazy chunk's stylesheet never loads; with './'
  // they are relative to the chunk that imports them, inside its release. `daylight publish` warns about a build
  // made with an absolute base.
  base: './',
  build: { outDir: 'builds/dev', emptyOutDir: true },
});
