// On-disk cache of large models' graphs. A model whose weights exceed a threshold is built
// through an ExternalWeightSink into <cacheDir>/<key>/{model.onnx, model.onnx.data}, so the
// builder never holds the weights and ORT maps them from the file; the next load with the
// same model files (names, sizes, mtimes) and graph options reuses the folder as is.
//
//   key = sha256(version, folder path, files' size+mtime, graph options)
//   <key>.tmp-<pid>-<t>/ ──build+save──► complete.json ──rename──► <key>/

import { createHash } from 'node:crypto';
import { existsSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ExternalWeightSink } from '../onnx/external-weights.ts';
import { saveModel } from '../onnx/serialize.ts';
import { validateModel } from '../onnx/validate.ts';
import { buildModelGraph } from './build-graph.ts';
import type { ModelFolder } from './folder.ts';
import type { GraphOptions } from './graph-options.ts';

/** Bump when the graph builders change what they emit, so stale cached graphs are rebuilt. */
const CACHE_VERSION = 1;
const MODEL_FILE = 'model.onnx';
const DATA_FILE = 'model.onnx.data';
const MARKER = 'complete.json';

export const DEFAULT_EXTERNAL_THRESHOLD = 256 * 2 ** 20;

export function defaultGraphCacheDir(): string {
  return join(tmpdir(), 'recall-graph-cache');
}

/** Bytes the graph's weight initializers take (every stored tensor, float32 or float16). */
export function graphWeightBytes(folder: ModelFolder, weightDtype: GraphOptions['weightDtype']): number {
  const width = weightDtype === 'float16' ? 2 : 4;
  let n = 0;
  for (const name of folder.weights.names()) n += folder.weights.info(name).shape.reduce((a, d) => a * d, 1) * width;
  return n;
}

/** JSON of graph options with typed arrays replaced by a hash of their bytes and Maps by entries. */
function canonicalOptions(options: GraphOptions): string {
  const { externalWeights: _sink, ...rest } = options;
  return JSON.stringify(rest, (_k, v: unknown) => {
    if (v instanceof Map) return [...v.entries()].sort(([a], [b]) => String(a).localeCompare(String(b)));
    if (ArrayBuffer.isView(v)) return `sha256:${createHash('sha256').update(new Uint8Array(v.buffer, v.byteOffset, v.byteLength)).digest('hex')}`;
    return v;
  });
}

export function graphCacheKey(folder: ModelFolder, options: GraphOptions): string {
  const files = folder.files.map((f) => {
    const st = statSync(join(folder.dir, f));
    return [f, st.size, Math.round(st.mtimeMs)];
  });
  const text = JSON.stringify({ v: CACHE_VERSION, dir: resolve(folder.dir), files, options: canonicalOptions(options) });
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

interface Marker { key: string; dataBytes: number; tensors: number }

function readMarker(dir: string): Marker | null {
  try {
    return JSON.parse(readFileSync(join(dir, MARKER), 'utf8')) as Marker;
  } catch {
    return null;
  }
}

function isComplete(dir: string, key: string): boolean {
  const m = readMarker(dir);
  if (!m || m.key !== key || !existsSync(join(dir, MODEL_FILE))) return false;
  return existsSync(join(dir, DATA_FILE)) && statSync(join(dir, DATA_FILE)).size === m.dataBytes;
}

export interface CachedGraph {
  /** The model file to open with ORT (its data file lies beside it). */
  path: string;
  /** True when an earlier build was reused. */
  reused: boolean;
  key: string;
}

/** The graph of `folder` with `options`, built through an external-weight sink unless cached. */
export function cachedModelGraph(folder: ModelFolder, options: GraphOptions, cacheDir = defaultGraphCacheDir()): CachedGraph {
  const key = graphCacheKey(folder, options);
  const dir = join(cacheDir, key);
  const path = join(dir, MODEL_FILE);
  if (isComplete(dir, key)) return { path, reused: true, key };
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  const sink = new ExternalWeightSink(tmp, { fileName: DATA_FILE });
  try {
    const model = buildModelGraph(folder.config, folder.weights, { ...options, externalWeights: sink });
    sink.close();
    validateModel(model);
    saveModel(model, join(tmp, MODEL_FILE));
    const marker: Marker = { key, dataBytes: sink.fileBytes, tensors: sink.tensorsWritten };
    writeFileSync(join(tmp, MARKER), JSON.stringify(marker));
    rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(tmp, dir);
    } catch (e) {
      // Another process finished the same build first: use its folder.
      if (!isComplete(dir, key)) throw e;
      rmSync(tmp, { recursive: true, force: true });
    }
    return { path, reused: false, key };
  } catch (e) {
    sink.close();
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}
