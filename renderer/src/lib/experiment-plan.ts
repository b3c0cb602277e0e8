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

/** What the builder starts a recovery of each method with (the engine's defaults, except 20 prompt / prefix tokens). */
export const RECOVERY_DEFAULTS = { rank: 8, tokens: 20, idpTokens: 25, prompts: 4, targets: ['q_proj', 'v_proj'] } as const;

/** The modules LoRA can target, per model family (main/engine/recover/adapter.ts moduleDims). */
export const LORA_MODULES = {
  llama: ['q_proj', 'k_proj', 'v_proj', 'o_proj', 'gate_proj', 'up_proj', 'down_proj'],
  opt: ['q_proj', 'k_proj', 'v_proj', 'out_proj', 'fc1', 'fc2'],
} as const;

/** A new recovery of `method` with the builder's defaults, keeping the steps (switching method starts its options afresh). */
export function newRecovery(method: RecoveryChoice['method'], steps: number): RecoveryChoice {
  if (method === 'lora') return { method, rank: RECOVERY_DEFAULTS.rank, steps };
  if (method === 'idp') return { method, steps, init: 'random' };
  return { method, tokens: RECOVERY_DEFAULTS.tokens, steps, init: 'random' };
}

/** A number the user gave (an emptied number field reads as undefined or null: the default). */
const given = (v: number | null | undefined): v is number => typeof v === 'number' && !Number.isNaN(v);

/** The LoRA target modules typed (comma- or space-separated); null when the field is empty (the default). */
export function parseTargets(text: string | undefined): string[] | null {
  const names = (text ?? '').split(/[\s,]+/).filter(Boolean);
  return names.length ? names : null;
}

const sameList = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x, i) => x === b[i]);

function initOption(r: RecoveryChoice): string | undefined {
  if (r.init === 'vocab') return 'vocab';
  if (r.init === 'text') return `text:${(r.initText ?? '').trim()}`;
  return undefined;
}

export type RecoveryOptionValue = number | string | boolean | string[];

/**
 * The recovery module's options (main/engine/experiments/step-inputs.ts METHOD_OPTIONS) for a
 * recovery, with the defaults left out, so one left at its defaults is sent as it always was:
 * LoRA's rank and prompt / prefix tuning's virtual tokens always, IDP's options only when changed.
 */
export function recoveryOptions(r: RecoveryChoice): Record<string, RecoveryOptionValue> | undefined {
  const o: Record<string, RecoveryOptionValue> = {};
  const init = initOption(r);
  switch (r.method) {
    case 'lora': {
      const rank = given(r.rank) ? r.rank : RECOVERY_DEFAULTS.rank;
      o.rank = rank;
      if (given(r.alpha) && r.alpha !== rank) o.alpha = r.alpha;
      if (given(r.dropout) && r.dropout !== 0) o.dropout = r.dropout;
      const targets = parseTargets(r.targets);
      if (targets && !sameList(targets, RECOVERY_DEFAULTS.targets)) o.targets = targets;
      break;
    }
    case 'prompt':
    case 'prefix':
      o.virtualTokens = given(r.tokens) ? r.tokens : RECOVERY_DEFAULTS.tokens;
      if (r.method === 'prefix' && r.reparam) o.reparam = true;
      if (init) o.init = init;
      break;
    case 'idp':
      if (given(r.tokens) && r.tokens !== RECOVERY_DEFAULTS.idpTokens) o.virtualTokens = r.tokens;
      if (given(r.prompts) && r.prompts !== RECOVERY_DEFAULTS.prompts) o.prompts = r.prompts;
      if (init) o.init = init;
      break;
  }
  return Object.keys(o).length ? o : undefined;
}

export type RecoveryField = 'rank' | 'tokens' | 'steps' | 'alpha' | 'dropout' | 'targets' | 'init' | 'prompts';

const positiveInt = (v: number | null | undefined) => !given(v) || (Number.isInteger(v) && v > 0);

/**
 * What the engine would refuse in a recovery, per field (empty: nothing). `architecture` (the
 * model's, e.g. OPTForCausalLM) narrows the LoRA target modules to its family's.
 */
export function recoveryProblems(r: RecoveryChoice, architecture?: string | null): Partial<Record<RecoveryField, string>> {
  const p: Partial<Record<RecoveryField, string>> = {};
  if (!(r.steps > 0) || !Number.isInteger(r.steps)) p.steps = 'steps must be a positive integer';
  if (r.method === 'lora') {
    if (!positiveInt(r.rank)) p.rank = 'rank must be a positive integer';
    if (given(r.alpha) && !(r.alpha > 0)) p.alpha = 'alpha must be greater than 0';
    if (given(r.dropout) && !(r.dropout >= 0 && r.dropout < 1)) p.dropout = 'dropout must be in [0, 1)';
    const targets = parseTargets(r.targets) ?? [];
    const family = !architecture ? null : /^opt/i.test(architecture) ? 'opt' : 'llama';
    const known: readonly string[] = family ? LORA_MODULES[family] : [...new Set([...LORA_MODULES.llama, ...LORA_MODULES.opt])];
    const unknown = targets.find((t) => !known.includes(t));
    const twice = targets.find((t, i) => targets.indexOf(t) !== i);
    if (unknown !== undefined) p.targets = `${unknown} is not a module${family ? ` of ${family === 'opt' ? 'an OPT' : 'a LLaMA-family'} model` : ' LoRA can target'} (${known.join(', ')})`;
    else if (twice !== undefined) p.targets = `${twice} is named twice`;
    return p;
  }
  if (!positiveInt(r.tokens)) p.tokens = 'virtual tokens must be a positive integer';
  if (r.method === 'idp' && !positiveInt(r.prompts)) p.prompts = 'prompts must be a positive integer';
  if (r.init === 'text' && !(r.initText ?? '').trim()) p.init = 'init text is empty: type the words to start from';
  else if (r.method === 'prefix' && r.init === 'vocab') p.init = 'prefix init must be random or text';
  else if (r.method === 'prefix' && r.init === 'text' && r.reparam) p.init = 'text init needs reparam off';
  return p;
}

function initLabel(r: RecoveryChoice): string | null {
  if (r.init === 'vocab') return 'vocab init';
  const text = (r.initText ?? '').trim();
  if (r.init === 'text') return text ? `init "${text}"` : 'text init';
  return null;
}

/** One line per recovery; options left at their defaults are not named, so two of one method differ by what was changed. */
export function describeRecovery(r: RecoveryChoice): string {
  const parts: string[] = [];
  if (r.method === 'lora') {
    const rank = given(r.rank) ? r.rank : RECOVERY_DEFAULTS.rank;
    parts.push(`LoRA r=${rank}`);
    if (given(r.alpha) && r.alpha !== rank) parts.push(`alpha=${r.alpha}`);
    if (given(r.dropout) && r.dropout !== 0) parts.push(`dropout=${r.dropout}`);
    const targets = parseTargets(r.targets);
    if (targets && !sameList(targets, RECOVERY_DEFAULTS.targets)) parts.push(`on ${targets.join('+')}`);
  } else if (r.method === 'idp') {
    parts.push('IDP');
    if (given(r.tokens) && r.tokens !== RECOVERY_DEFAULTS.idpTokens) parts.push(`${r.tokens} tok`);
    if (given(r.prompts) && r.prompts !== RECOVERY_DEFAULTS.prompts) parts.push(`${r.prompts} prompts`);
  } else {
    parts.push(`${r.method === 'prompt' ? 'Prompt tuning' : 'Prefix tuning'} ${given(r.tokens) ? r.tokens : RECOVERY_DEFAULTS.tokens} tok`);
    if (r.method === 'prefix' && r.reparam) parts.push('reparam');
  }
  const init = r.method === 'lora' ? null : initLabel(r);
  if (init) parts.push(init);
  return `${parts.join(' ')}, ${r.steps} steps`;
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

/** `architecture`: the chosen model's (ModelDetails), when known; it narrows the LoRA target modules. */
export function planExperiment(d: ExperimentDraft, o: { architecture?: string | null } = {}): ExperimentPlan {
  const problems: string[] = [];
  if (!d.model) problems.push('Choose a model.');
  if (d.compressions.length === 0) problems.push('Add at least one compression.');
  if (d.tasks.length === 0) problems.push('Pick at least one task to evaluate on.');
  if (d.seeds.length === 0) problems.push('Give at least one seed (e.g. 1).');
  for (const c of d.compressions) {
    if ((c.method === 'rtn' || c.method === 'gptq') && ![2, 3, 4, 8].includes(c.bits ?? 0)) problems.push(`${describeCompression(c)}: bits must be 2, 3, 4 or 8.`);
    if ((c.method === 'sparsegpt' || c.method === 'magnitude') && !c.nm && !((c.sparsity ?? 0) > 0 && (c.sparsity ?? 0) < 1)) problems.push(`${describeCompression(c)}: sparsity must be between 0 and 1.`);
  }
  const seen = new Set<string>();
  for (const r of d.recoveries) {
    for (const p of Object.values(recoveryProblems(r, o.architecture))) problems.push(`${describeRecovery(r)}: ${p}.`);
    // The same method, steps and options twice: the engine refuses the second (duplicate name), and it would train the same thing.
    const key = JSON.stringify([r.method, r.steps, recoveryOptions(r) ?? {}]);
    if (seen.has(key)) problems.push(`${describeRecovery(r)} is listed twice: change an option of one, or remove it.`);
    seen.add(key);
  }
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
