// `npm run bench -- NAME [args]`: runs one bench from bench/; with no name, lists them.
// Benches print ratios measured in one run (ours vs a reference on the same input), not
// absolute times to compare across machines (docs STYLE.md, habit 10).

export interface Bench {
  description: string;
  run(args: string[]): Promise<void>;
}

/** Loaded lazily so listing benches does not start ORT or Python. */
const BENCHES: Record<string, { description: string; load: () => Promise<Bench> }> = {
  'ort-block': {
    description: 'one decoder block: ORT session creation, and ORT vs PyTorch forward time (needs /usr/bin/python3 with torch)',
    load: async () => (await import('./ort-block.ts')).bench,
  },
  'models-forward': {
    description: 'whole LLaMA-style models up to ~100M params: scoring and generation tokens/s vs PyTorch, build+session peak RSS',
    load: async () => (await import('./models-forward.ts')).bench,
  },
  'compress-layer': {
    description: 'one linear layer: GPTQ 4-bit g128 and SparseGPT 50%, Recall vs PyTorch (-- --quick: 1024x1024 only)',
    load: async () => (await import('./compress-layer.ts')).bench,
  },
  'compress-model': {
    description: 'whole-model GPTQ 4-bit g128 from the CLI (random ~29M LLaMA; -- --size 80m): peak RSS above baseline / weight bytes, seconds',
    load: async () => (await import('./compress-model.ts')).bench,
  },
  'train-step': {
    description: 'one training step (forward + backward + AdamW) vs PyTorch: step time, tokens/s, peak RSS, first-step loss',
    load: async () => (await import('./train-step.ts')).bench,
  },
  'compress-packed': {
    description: 'packed MatMulNBits vs fake-quant float32 execution (demo, ~29M random; RTN 4/3/2-bit g128): weight bytes, peak RSS, tokens/s',
    load: async () => (await import('./compress-packed.ts')).bench,
  },
  'distributed': {
    description: 'an experiment grid on the local queue vs 1, 2, 3 BullMQ workers (needs redis-server): wall time ratios, queue overhead per step',
    load: async () => (await import('./distributed.ts')).bench,
  },
  'eval-speed': {
    description: 'evaluation examples/s per task type, shared-context KV reuse vs one forward per pair',
    load: async () => (await import('./eval-speed.ts')).bench,
  },
};

function list(): void {
  console.log('usage: npm run bench -- NAME [args]\n\nbenches:');
  for (const [name, b] of Object.entries(BENCHES)) console.log(`  ${name.padEnd(15)} ${b.description}`);
}

const [name, ...args] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h') {
  list();
} else if (!(name in BENCHES)) {
  console.error(`unknown bench '${name}'`);
  list();
  process.exitCode = 2;
} else {
  const bench = await BENCHES[name]!.load();
  await bench.run(args);
}
