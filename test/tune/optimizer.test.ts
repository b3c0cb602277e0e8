// Oracle tests: AdamW and SGD steps, clip_grad_norm_ and the lr schedules against torch 1.13
// and transformers' formulas (fixture made by scripts/oracles/tune_adamw.py). Tolerance: 1e-6
// relative (plus 1e-9 absolute for values near 0); the code follows torch's float32 op order,
// so the differences seen are 0 or an ulp.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { isRecallError } from '../../main/engine/errors.ts';
import { clipGradNorm } from '../../main/engine/tune/clip.ts';
import { type OptimizerSettings, type Params, createOptimizer } from '../../main/engine/tune/optimizer.ts';
import { type ScheduleKind, lrMultiplier } from '../../main/engine/tune/schedule.ts';
import { assertClose } from '../helpers/compare.ts';

interface OptCase {
  settings: Record<string, unknown> & { lr: number };
  start: Record<string, number[]>;
  grads: Record<string, number[]>[];
  after: Record<string, number[]>[];
  state: Record<string, number[]>;
}
interface ClipCase { maxNorm: number; grads: number[][]; norm: number; clipped: number[][] }
interface Fixture {
  optimizers: Record<string, OptCase>;
  clip: Record<string, ClipCase>;
  schedules: ({ warmup: number; total: number; step: number } & Record<ScheduleKind, number>)[];
}
const fx = JSON.parse(readFileSync(new URL('../fixtures/tune/optim.json', import.meta.url), 'utf8')) as Fixture;
const TOL = { rtol: 1e-6, atol: 1e-9 };

const toParams = (o: Record<string, number[]>): Params => new Map(Object.entries(o).map(([k, v]) => [k, Float32Array.from(v)]));
const settingsOf = (name: string, c: OptCase): OptimizerSettings =>
  ({ kind: name.startsWith('adamw') ? 'adamw' : 'sgd', ...c.settings }) as OptimizerSettings;

/** The largest relative difference over all tensors, for the printed summary. */
const worst: Record<string, number> = {};

describe('optimizers match torch 1.13 (3 steps)', () => {
  for (const [name, c] of Object.entries(fx.optimizers)) {
    test(name, () => {
      const params = toParams(c.start);
      const opt = createOptimizer(settingsOf(name, c));
      c.grads.forEach((g, k) => {
        opt.step(params, toParams(g), c.settings.lr);
        for (const [p, want] of Object.entries(c.after[k]!)) {
          const d = assertClose(params.get(p)!, want, { ...TOL, label: `${name} step ${k + 1} ${p}` });
          worst[name] = Math.max(worst[name] ?? 0, d.maxRel);
        }
      });
      const state = opt.exportState();
      assert.equal(state.step, 3);
      assert.deepEqual([...state.tensors.keys()].sort(), Object.keys(c.state).sort());
      for (const [k, want] of Object.entries(c.state)) assertClose(state.tensors.get(k)!, want, { ...TOL, label: `${name} state ${k}` });
    });
  }

  test('exported state continues identically in a new optimizer', () => {
    const c = fx.optimizers.adamw!;
    const p1 = toParams(c.start), p2 = toParams(c.start);
    const o1 = createOptimizer(settingsOf('adamw', c));
    o1.step(p1, toParams(c.grads[0]!), c.settings.lr);
    p2.forEach((v, k) => v.set(p1.get(k)!));
    const o2 = createOptimizer(settingsOf('adamw', c));
    o2.importState(o1.exportState(), p2);
    for (const g of c.grads.slice(1)) {
      o1.step(p1, toParams(g), c.settings.lr);
      o2.step(p2, toParams(g), c.settings.lr);
    }
    for (const [k, v] of p1) assert.deepEqual(p2.get(k), v, `param ${k} after import`);
  });

  test('refuses a missing or mis-sized gradient, naming the parameter', () => {
    const opt = createOptimizer({ kind: 'adamw', lr: 1e-3 });
    const params: Params = new Map([['w', new Float32Array(3)]]);
    assert.throws(() => opt.step(params, new Map(), 1e-3), (e: unknown) => isRecallError(e, 'E_MISSING_TENSOR') && e.message.includes("'w'"));
    assert.throws(() => opt.step(params, new Map([['w', new Float32Array(2)]]), 1e-3), (e: unknown) => isRecallError(e, 'E_SHAPE_MISMATCH') && e.message.includes("'w'"));
    assert.throws(() => createOptimizer({ kind: 'sgd', lr: 0.1, nesterov: true }), (e: unknown) => isRecallError(e, 'E_INVALID_ARGUMENT'));
  });
});

describe('clip_grad_norm_ matches torch', () => {
  for (const [name, c] of Object.entries(fx.clip)) {
    test(name, () => {
      const grads = c.grads.map((g) => Float32Array.from(g));
      const norm = clipGradNorm(grads, c.maxNorm);
      assertClose([norm], [c.norm], { ...TOL, label: `${name} norm` });
      grads.forEach((g, i) => {
        const d = assertClose(g, c.clipped[i]!, { ...TOL, label: `${name} grad ${i}` });
        worst[`clip_${name}`] = Math.max(worst[`clip_${name}`] ?? 0, d.maxRel);
      });
    });
  }
});

describe("schedules match transformers' formulas", () => {
  for (const kind of ['constant', 'linear', 'cosine'] as const) {
    test(kind, () => {
      const got = fx.schedules.map((s) => lrMultiplier({ kind, warmupSteps: s.warmup, totalSteps: s.total }, s.step));
      const d = assertClose(got, fx.schedules.map((s) => s[kind]), { rtol: 1e-12, atol: 1e-15, label: `${kind} schedule` });
      worst[`schedule_${kind}`] = d.maxAbs;
    });
  }
  test('max differences', () => {
    // Printed so a run's log shows how close the oracle match is, not only that it passed.
    console.log(`# tune oracle max rel diff: ${JSON.stringify(worst)}`);
  });
});
