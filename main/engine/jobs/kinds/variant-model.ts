// Loading the model a variant stands for: a (compressed) model folder, plus a recovery adapter
// (LoRA, prompt, prefix, IDP) for tune runs, through the recovery module's adapter runtime.

import { LanguageModel } from '../../models/language-model.ts';
import { openAdapter } from '../../recover/model-adapter.ts';
import type { JobContext } from '../job-context.ts';
import type { Variant } from '../run-files.ts';

export async function loadVariantModel(v: Variant, ctx: JobContext): Promise<LanguageModel> {
  const onFallback = (m: string) => ctx.log(m, 'warn');
  const adapter = v.adapterDir ? { adapter: openAdapter(v.adapterDir, ctx.session) } : {};
  return LanguageModel.load(v.modelDir, { ...ctx.session, onFallback, ...adapter });
}
