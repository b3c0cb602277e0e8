// A Hugging Face model folder on disk: config.json (+ generation_config.json), safetensors
// weights (single or sharded) and the tokenizer files. loadModelFolder opens it lazily and
// checks that the weights fit the config before any graph is built, so a wrong checkpoint
// fails here, naming the tensor, instead of deep inside ONNX Runtime.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { RecallError, type RecallErrorCode } from '../errors.ts';
import { GptqWeights, readGptqFolderConfig } from '../compress/load-gptq.ts';
import { readDecoderConfig } from './config.ts';
import { openModelWeights } from './safetensors.ts';
import { configParameterCount, expectedTensors } from './tensor-layout.ts';
import type { DecoderConfig, WeightInfo, WeightSource } from './types.ts';
import type { ModelInspectionInfo } from '../../contract/runs.ts';

export interface ModelFolder {
  dir: string;
  config: DecoderConfig;
  /** Weights under canonical names (OPT's "decoder.*" served as "model.decoder.*"). */
  weights: WeightSource;
  /** tokenizer.json, when the folder has one. */
  tokenizerPath?: string;
  /** The model files found (config, weights, tokenizer), as names relative to dir. */
  files: string[];
}

const KNOWN_FILES = /^(config\.json|generation_config\.json|tokenizer\.json|tokenizer_config\.json|special_tokens_map\.json|vocab\.json|merges\.txt|tokenizer\.model|.*\.safetensors|model\.safetensors\.index\.json|quantize_config\.json)$/;

function checkDir(dir: string): void {
  if (!existsSync(dir)) throw new RecallError('E_NOT_FOUND', `${dir}: model folder not found`, { file: dir });
  if (!statSync(dir).isDirectory()) throw new RecallError('E_NOT_FOUND', `${dir}: not a folder`, { file: dir });
}

/** Open a model folder: parse its config, open its weights lazily and check their shapes. */
export function loadModelFolder(dir: string, options: { checkShapes?: boolean } = {}): ModelFolder {
  checkDir(dir);
  const config = readDecoderConfig(dir);
  const stored = openModelWeights(dir);
  let weights: WeightSource = stored;
  try {
    // A GPTQ checkpoint (quantization_config.quant_method 'gptq'): quantized modules are served
    // as dequantized float `.weight` tensors (main/engine/compress/load-gptq.ts).
    const gptq = readGptqFolderConfig(dir);
    if (gptq) weights = new GptqWeights(stored, gptq);
    if (config.family === 'opt') weights = canonicalOptWeights(weights);
    if (options.checkShapes !== false) checkShapes(config, weights);
  } catch (e) {
    stored.close();
    throw e;
  }
  const tokenizer = join(dir, 'tokenizer.json');
  const files = readdirSync(dir).filter((f) => KNOWN_FILES.test(f)).sort();
  return { dir, config, weights, ...(existsSync(tokenizer) ? { tokenizerPath: tokenizer } : {}), files };
}

interface ShapeProblem { code: RecallErrorCode; tensor: string; expected: number[]; actual: number[] | null; file?: string }

/**
 * Check that every tensor the config implies exists with the implied shape. All problems are
 * collected, so one run shows the whole picture; the error's code is that of the first.
 */
export function checkShapes(config: DecoderConfig, weights: WeightSource): void {
  const problems: ShapeProblem[] = [];
  for (const t of expectedTensors(config)) {
    if (!weights.has(t.name)) {
      if (!t.optional) problems.push({ code: 'E_MISSING_TENSOR', tensor: t.name, expected: t.shape, actual: null });
      continue;
    }
    const info = weights.info(t.name);
    if (info.shape.length !== t.shape.length || info.shape.some((d, i) => d !== t.shape[i])) {
      problems.push({ code: 'E_SHAPE_MISMATCH', tensor: t.name, expected: t.shape, actual: info.shape, file: info.file });
    }
  }
  if (problems.length === 0) return;
  const fmt = (s: number[]) => `[${s.join(', ')}]`;
  const lines = problems.slice(0, 8).map((p) =>
    p.actual ? `${p.file}: tensor '${p.tensor}' has shape ${fmt(p.actual)}, expected ${fmt(p.expected)}` : `tensor '${p.tensor}' (expected ${fmt(p.expected)}) is missing`,
  );
  const more = problems.length > 8 ? `\n  ... and ${problems.length - 8} more` : '';
  const head = `weights do not match config (${config.modelType}, ${config.numLayers} layers, hidden ${config.hiddenSize})`;
  throw new RecallError(problems[0]!.code, `${head}:\n  ${lines.join('\n  ')}${more}`, { problems });
}

/**
 * Some OPT checkpoints store "decoder.*" (OPTModel) instead of "model.decoder.*"
 * (OPTForCausalLM). Serve both under the latter so builders see one set of names.
 */
export function canonicalOptWeights(w: WeightSource): WeightSource {
  if (w.has('model.decoder.embed_tokens.weight') || !w.has('decoder.embed_tokens.weight')) return w;
  const toStored = new Map<string, string>();
  for (const n of w.names()) toStored.set(n.startsWith('decoder.') ? `model.${n}` : n, n);
  const stored = (name: string) => toStored.get(name) ?? name;
  return {
    names: () => [...toStored.keys()],
    has: (name) => toStored.has(name),
    info: (name): WeightInfo => ({ ...w.info(stored(name)), name }),
    readFloat32: (name) => w.readFloat32(stored(name)),
    readFloat16: (name) => w.readFloat16(stored(name)),
    readFloat32Chunks: (name, emit) => (w.readFloat32Chunks ? w.readFloat32Chunks(stored(name), emit) : emit(w.readFloat32(stored(name)))),
    close: () => w.close(),
  };
}

/** The contract's inspection (architecture, sizes, memory) plus what only the engine uses. */
export interface ModelInspection extends ModelInspectionInfo {
  family: DecoderConfig['family'];
  /** Parameters the config implies; differs from `parameters` when extra tensors are stored. */
  configParameters: number;
  torchDtype: string | null;
  config: DecoderConfig;
}

/** Summarise a model folder from its config and safetensors headers only (no tensor reads). */
export function inspectModel(dir: string): ModelInspection {
  checkDir(dir);
  const config = readDecoderConfig(dir);
  const weights = openModelWeights(dir);
  try {
    let parameters = 0;
    const dtypes = new Map<string, number>();
    for (const name of weights.names()) {
      const e = weights.entry(name)!;
      const n = e.shape.reduce((a, b) => a * b, 1);
      parameters += n;
      dtypes.set(e.storedDtype, (dtypes.get(e.storedDtype) ?? 0) + n);
    }
    const files = [...new Set(weights.names().map((n) => weights.fileOf(n)!))].sort();
    const raw = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as { architectures?: unknown };
    const architecture = Array.isArray(raw.architectures) && typeof raw.architectures[0] === 'string' ? raw.architectures[0] : config.modelType;
    return {
      dir,
      modelType: config.modelType,
      family: config.family,
      architecture,
      parameters,
      configParameters: configParameterCount(config),
      dtype: dtypes.size === 1 ? [...dtypes.keys()][0]! : dtypes.size === 0 ? 'none' : 'mixed',
      torchDtype: config.torchDtype,
      layers: config.numLayers,
      hiddenSize: config.hiddenSize,
      heads: config.numHeads,
      kvHeads: config.numKvHeads,
      headDim: config.headDim,
      vocabSize: config.vocabSize,
      maxPositions: config.maxPositions,
      tiedEmbeddings: config.tieWordEmbeddings,
      memory: { float32: parameters * 4, float16: parameters * 2 },
      weightFiles: files.map((file) => ({ file, bytes: statSync(file).size })),
      hasTokenizer: existsSync(join(dir, 'tokenizer.json')) || (existsSync(join(dir, 'vocab.json')) && existsSync(join(dir, 'merges.txt'))),
      config,
    };
  } finally {
    weights.close();
  }
}
