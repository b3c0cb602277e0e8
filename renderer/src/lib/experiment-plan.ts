// The grid a New experiment draft expands to: every compression x (none + every recovery) x
// seed, each evaluated on every task, plus the dense baseline per seed. Pure, so the builder's
// summary and the engine's plan can be checked against each other.

import type { CompressionChoice, ExperimentDraft, RecoveryChoice } from './workbench-types.ts';

export function describeCompression(c: CompressionChoice): string {
  switch (c.method) {
    case 'rtn':
    case 'gptq':
      return `${c.method.toUpperCase()} ${c.bits ?? 4}-bit${c.groupSize ? ` g${c.groupSize}` : ''}`;
    case 'sparsegpt':
    case 'magnitude': {
      const name = c.method === 'sparsegpt' ? 'SparseGPT' : 'Magnitude';
      return c.nm ? `${name} ${c.nm[0]}:${c.nm[1]}` : `${name} ${Math.round((c.sparsity ?? 0.5) * 100)}%`;
    }
  }
}

export function describeRecovery(r: RecoveryChoice): string {
  if (r.method === 'lora') return `LoRA r=${r.rank ?? 8}, ${r.steps} steps`;
  if (r.method === 'idp') return `IDP, ${r.steps} steps`;
  return `${r.method === 'prompt' ? 'Prompt tuning' : 'Prefix tuning'} ${r.tokens ?? 20} tok, ${r.steps} steps`;
}

export interface PlannedRun {
  label: string;
  seed: number;
  kind: 'dense' | 'compressed' | 'recovered';
}

export interface ExperimentPlan {
  runs: PlannedRun[];
  evaluations: number;
  problems: string[];
}

export function planExperiment(d: ExperimentDraft): ExperimentPlan {
  const problems: string[] = [];
  if (!d.model) problems.push('Choose a model.');
  if (d.compressions.length === 0) problems.push('Add at least one compression.');
  if (d.tasks.length === 0) problems.push('Pick at least one task to evaluate on.');
  if (d.seeds.length === 0) problems.push('Give at least one seed (e.g. 1).');
  for (const c of d.compressions) {
    if ((c.method === 'rtn' || c.method === 'gptq') && ![2, 3, 4, 8].includes(c.bits ?? 0)) problems.push(`${describeCompression(c)}: bits must be 2, 3, 4 or 8.`);
    if ((c.method === 'sparsegpt' || c.method === 'magnitude') && !c.nm && !((c.sparsity ?? 0) > 0 && (c.sparsity ?? 0) < 1)) problems.push(`${describeCompression(c)}: sparsity must be between 0 and 1.`);
  }
  for (const r of d.recoveries) if (!(r.steps > 0)) problems.push(`${describeRecovery(r)}: steps must be positive.`);
  const runs: PlannedRun[] = [];
  for (const seed of d.seeds) {
    runs.push({ label: 'Dense', seed, kind: 'dense' });
    for (const c of d.compressions) {
      runs.push({ label: describeCompression(c), seed, kind: 'compressed' });
      for (const r of d.recoveries) runs.push({ label: `${describeCompression(c)} + ${describeRecovery(r)}`, seed, kind: 'recovered' });
    }
  }
  return { runs, evaluations: runs.length * d.tasks.length, problems };
}

/** "1, 2, 3" or "1-3" to seeds; null when the text is not a list of integers. */
export function parseSeeds(text: string): number[] | null {
  const out: number[] = [];
  for (const part of text.split(/[\s,]+/).filter(Boolean)) {
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) {
      const [a, b] = [Number(range[1]), Number(range[2])];
      if (b < a || b - a > 100) return null;
      for (let s = a; s <= b; s++) out.push(s);
    } else if (/^\d+$/.test(part)) out.push(Number(part));
    else return null;
  }
  return [...new Set(out)];
}
