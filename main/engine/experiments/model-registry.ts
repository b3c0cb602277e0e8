// Models the API knows: the demo model shipped with Recall and folders imported into the store.
// A model is keyed by a content fingerprint that is cheap even for 7B checkpoints: config.json,
// each safetensors file's header (names, dtypes, shapes, offsets) and size. Two copies of one
// checkpoint are one model; a retrained one is another.

import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { ModelEntry } from '../../contract/index.ts';
import { RecallError } from '../errors.ts';
import { inspectModel } from '../models/folder.ts';
import type { ModelRecord, Store } from '../store/index.ts';
import { fromPackageRoot } from '../package-root.ts';

export const DEMO_MODEL_DIR = fromPackageRoot('native-models', 'demo-model');
export const DEMO_DATA_DIR = fromPackageRoot('native-models', 'demo');

/** The first 8 + header bytes of a safetensors file (its header), and the file's size. */
function safetensorsHeader(file: string): Buffer {
  const fd = openSync(file, 'r');
  try {
    const len = Buffer.alloc(8);
    readSync(fd, len, 0, 8, 0);
    const n = Number(len.readBigUInt64LE(0));
    if (!(n > 0 && n < 100_000_000)) throw new RecallError('E_SAFETENSORS_HEADER', `${file}: header length ${n} is not plausible`, { file });
    const header = Buffer.alloc(n);
    readSync(fd, header, 0, n, 8);
    return header;
  } finally {
    closeSync(fd);
  }
}

export function modelFingerprint(dir: string): string {
  const inspection = inspectModel(dir);
  const hash = createHash('sha256').update(readFileSync(join(dir, 'config.json')));
  for (const w of inspection.weightFiles) hash.update(basename(w.file)).update(String(w.bytes)).update(safetensorsHeader(w.file));
  return hash.digest('hex');
}

export function isModelFolder(dir: string): boolean {
  return existsSync(join(dir, 'config.json')) && (existsSync(join(dir, 'model.safetensors')) || existsSync(join(dir, 'model.safetensors.index.json')));
}

/** Registers a model folder (or refreshes it) in the store. */
export function importModel(store: Store, dir: string, name?: string): ModelRecord {
  const abs = resolve(dir);
  if (!existsSync(abs)) throw new RecallError('E_NOT_FOUND', `${abs}: model folder not found`, { file: abs });
  const inspection = inspectModel(abs);
  return store.models.register({
    fingerprint: modelFingerprint(abs), name: name ?? (abs === DEMO_MODEL_DIR ? 'demo' : basename(abs)), architecture: inspection.architecture, sourcePath: abs,
    info: { parameters: inspection.parameters, layers: inspection.layers, hiddenSize: inspection.hiddenSize, dtype: inspection.dtype, family: inspection.family },
  });
}

/** 'demo', a model folder (imported on first use) or a store model id. */
export function resolveModel(store: Store, ref: string | number): ModelRecord {
  if (typeof ref === 'number') {
    const m = store.models.get(ref);
    if (!m) throw new RecallError('E_NOT_FOUND', `model ${ref} does not exist (see models.list)`, { modelId: ref });
    return m;
  }
  if (ref === 'demo') {
    if (!isModelFolder(DEMO_MODEL_DIR)) throw new RecallError('E_NOT_FOUND', `the demo model is not built yet (${DEMO_MODEL_DIR} has no config.json + model.safetensors)`, { file: DEMO_MODEL_DIR });
    return importModel(store, DEMO_MODEL_DIR, 'demo');
  }
  return importModel(store, ref);
}

export function listModels(store: Store): ModelEntry[] {
  const imported = store.models.list();
  const entries: ModelEntry[] = imported.map((m) => ({
    id: m.id, name: m.name, dir: m.sourcePath, source: m.sourcePath === DEMO_MODEL_DIR ? 'demo' : 'imported', architecture: m.architecture,
    fingerprint: m.fingerprint, available: existsSync(join(m.sourcePath, 'config.json')),
  }));
  if (!entries.some((e) => e.source === 'demo')) {
    entries.unshift({ id: null, name: 'demo', dir: DEMO_MODEL_DIR, source: 'demo', architecture: null, fingerprint: null, available: isModelFolder(DEMO_MODEL_DIR) });
  }
  return entries;
}

/** A file a model folder's recall.json names (e.g. 'calibration'), resolved against the folder. */
export function modelDataFile(modelDir: string, key: 'calibration' | 'train'): string | undefined {
  const meta = join(modelDir, 'recall.json');
  if (existsSync(meta)) {
    const value = (JSON.parse(readFileSync(meta, 'utf8')) as Record<string, unknown>)[key];
    if (typeof value === 'string' && value) return resolve(dirname(meta), value);
  }
  if (resolve(modelDir) === DEMO_MODEL_DIR) return join(DEMO_DATA_DIR, key === 'train' ? 'train.txt' : 'calibration.txt');
  return undefined;
}

export function fileSha256(file: string): string {
  if (!existsSync(file)) throw new RecallError('E_NOT_FOUND', `${file}: file not found`, { file });
  if (!statSync(file).isFile()) throw new RecallError('E_INVALID_ARGUMENT', `${file}: not a file`, { file });
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}
