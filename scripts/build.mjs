// Builds what the app runs from:
//   renderer  renderer/ -> dist/renderer (vite), skipped when dist/renderer is newer than its sources
//   electron  main/app/main.ts -> dist-electron/app/main.js (ESM) and main/app/preload.ts ->
//             dist-electron/app/preload.cjs (sandboxed preloads must be CommonJS), with esbuild;
//             runtime dependencies stay external (electron-builder ships them in node_modules);
//             onnx.proto is copied beside the bundle, where the bundled engine looks for it
// Usage: node scripts/build.mjs [renderer|electron|all] [--force]
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = fileURLToPath(new URL('..', import.meta.url));
export const rendererOut = join(root, 'dist', 'renderer');
const RENDERER_INPUTS = ['renderer', 'main/contract', 'vite.config.ts', 'svelte.config.js', 'package.json'];

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  let newest = s.mtimeMs;
  for (const name of readdirSync(path)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    newest = Math.max(newest, newestMtime(join(path, name)));
  }
  return newest;
}

/** dist/renderer exists and is newer than every renderer source. */
export function rendererIsFresh() {
  const index = join(rendererOut, 'index.html');
  if (!existsSync(index)) return false;
  const built = statSync(index).mtimeMs;
  return RENDERER_INPUTS.every((p) => newestMtime(join(root, p)) <= built);
}

export async function buildRenderer({ force = false } = {}) {
  if (!force && rendererIsFresh()) return { built: false, outDir: rendererOut };
  // Test files run in parallel and may all find the build stale: one builds, the others wait
  // and then find it fresh.
  const release = await lock(join(root, 'dist', '.renderer-build.lock'));
  try {
    if (!force && rendererIsFresh()) return { built: false, outDir: rendererOut };
    const { build } = await import('vite');
    await build({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn' });
    return { built: true, outDir: rendererOut };
  } finally {
    release();
  }
}

/** A lock directory (mkdir is atomic); one older than STALE_LOCK_MS is taken over. */
async function lock(dir) {
  const STALE_LOCK_MS = 120_000;
  mkdirSync(dirname(dir), { recursive: true });
  for (;;) {
    try {
      mkdirSync(dir);
      return () => rmSync(dir, { recursive: true, force: true });
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const age = Date.now() - (statSync(dir, { throwIfNoEntry: false })?.mtimeMs ?? Date.now());
      if (age > STALE_LOCK_MS) rmSync(dir, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
}

export async function buildElectron(o = {}) {
  const outDir = o.outDir ?? join(root, 'dist-electron/app');
  const esbuild = await import('esbuild');
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const external = ['electron', ...Object.keys(pkg.dependencies ?? {})];
  const common = { bundle: true, platform: 'node', target: 'node22', sourcemap: true, logLevel: 'warning', external };
  await esbuild.build({
    ...common,
    entryPoints: [join(root, 'main/app/main.ts')],
    outfile: join(outDir, 'main.js'),
    format: 'esm',
  });
  await esbuild.build({
    ...common,
    entryPoints: [join(root, 'main/app/preload.ts')],
    outfile: join(outDir, 'preload.cjs'),
    format: 'cjs',
    external: ['electron'],
  });
  // The processes the engine starts from its own folder: job processes (jobs/launcher.ts) and the
  // compression solver's worker threads (compress/solver-pool.ts). Bundled beside main.js, they
  // are found there and started as plain JavaScript (no tsx in a packaged app).
  for (const [entry, out] of [['main/engine/jobs/job-process.ts', 'job-process.js'], ['main/engine/compress/solver-worker.ts', 'solver-worker.js']]) {
    await esbuild.build({ ...common, entryPoints: [join(root, entry)], outfile: join(outDir, out), format: 'esm' });
  }
  // The bundle's engine loads onnx.proto beside itself (new URL('./onnx.proto', import.meta.url)).
  copyFileSync(join(root, 'main/engine/onnx/onnx.proto'), join(outDir, 'onnx.proto'));
  return { outDir };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const target = process.argv.slice(2).find((a) => !a.startsWith('--')) ?? 'all';
  const force = process.argv.includes('--force');
  const t0 = Date.now();
  if (target === 'renderer' || target === 'all') {
    const r = await buildRenderer({ force });
    console.log(r.built ? `built ${r.outDir}` : `${r.outDir} is up to date`);
  }
  if (target === 'electron' || target === 'all') {
    const r = await buildElectron();
    console.log(`built ${r.outDir}`);
  }
  if (!['renderer', 'electron', 'all'].includes(target)) {
    console.error(`unknown target '${target}' (renderer | electron | all)`);
    process.exit(2);
  }
  console.log(`build: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
}
