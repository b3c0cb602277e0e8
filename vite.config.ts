// Builds the renderer (renderer/ -> dist/renderer). Relative base so the same build loads from
// the bridge (http://127.0.0.1:PORT/) and from Electron's app://recall/ protocol.
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vite';

const fromRoot = (p: string) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
  root: fromRoot('./renderer'),
  base: './',
  plugins: [svelte({ configFile: fromRoot('./svelte.config.js') })],
  build: {
    outDir: fromRoot('./dist/renderer'),
    emptyOutDir: true,
    target: 'es2022',
    // Small assets inline as data: URIs (allowed by img-src); never inline scripts (CSP).
    assetsInlineLimit: 4096,
    sourcemap: true,
  },
  server: { host: '127.0.0.1', strictPort: false },
});
