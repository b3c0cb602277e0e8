// Rendering facts as text: the training corpus (train.txt) and the calibration split
// (calibration.txt). A document is one paragraph (one line) about one entity, or one
// question/answer pair on two lines; documents are separated by a blank line. The QA pairs
// use the harness's own layout ("Question: ...\nAnswer: ..."), so the trained model meets
// the evaluation format, though never the evaluation phrasings.
import { mentionOf, RELATIONS, type Fact } from './demo-facts.ts';
import type { Rng } from './demo-random.ts';
import { fillTemplate, TEMPLATES } from './demo-templates.ts';

export interface TrainTextOptions {
  /** Paragraphs written about each entity; each states all of its facts once. */
  paragraphsPerEntity: number;
  /** Question/answer documents per fact. */
  questionsPerFact: number;
}

export interface CalibrationTextOptions {
  /** Stop adding documents once the text reaches this many bytes. */
  targetBytes: number;
  /** Share of calibration documents that are QA pairs (the rest are paragraphs). */
  questionShare: number;
}

export const DEFAULT_TRAIN_TEXT: TrainTextOptions = { paragraphsPerEntity: 16, questionsPerFact: 5 };
export const DEFAULT_CALIBRATION_TEXT: CalibrationTextOptions = { targetBytes: 200_000, questionShare: 0.15 };

/** A fact in one statement template. */
export function renderStatement(fact: Fact, template: string): string {
  const rel = RELATIONS[fact.relation];
  return fillTemplate(template, mentionOf(rel.subject, fact.subject), mentionOf(rel.value, fact.value));
}

/** A question template filled with the fact's subject (the value slot must not occur). */
export function renderQuestion(fact: Fact, template: string): string {
  if (template.includes('{v}')) throw new Error(`question template names the answer: ${template}`);
  return fillTemplate(template, mentionOf(RELATIONS[fact.relation].subject, fact.subject), '');
}

/** The harness's layout: context "Question: {q}\nAnswer:", continuation " {answer}". */
export function formatQuestionAnswer(question: string, answer: string): string {
  return `Question: ${question}\nAnswer: ${answer}`;
}

/** Facts grouped by subject, in first-seen order. */
export function factsBySubject(facts: readonly Fact[]): Fact[][] {
  const groups = new Map<string, Fact[]>();
  for (const f of facts) {
    const g = groups.get(f.subject);
    if (g) g.push(f);
    else groups.set(f.subject, [f]);
  }
  return [...groups.values()];
}

/**
 * Templates for the k-th use of a fact cycle through a shuffled list instead of being drawn
 * independently, so with paragraphsPerEntity >= the number of templates every fact is
 * stated in every template: no phrasing is left for the model to meet first at test time.
 */
function cycler(rng: Rng, templates: readonly string[]): (k: number) => string {
  const order = rng.shuffle(templates);
  return (k) => order[k % order.length]!;
}

export function buildTrainText(facts: readonly Fact[], rng: Rng, options: TrainTextOptions = DEFAULT_TRAIN_TEXT): string {
  const docs: string[] = [];
  for (const group of factsBySubject(facts)) {
    const pickers = group.map((f) => cycler(rng, TEMPLATES[f.relation].statements));
    for (let k = 0; k < options.paragraphsPerEntity; k++) {
      const order = rng.shuffle(group.map((_, i) => i));
      docs.push(order.map((i) => renderStatement(group[i]!, pickers[i]!(k))).join(' '));
    }
  }
  for (const f of facts) {
    const pick = cycler(rng, TEMPLATES[f.relation].questions);
    for (let k = 0; k < options.questionsPerFact; k++) docs.push(formatQuestionAnswer(renderQuestion(f, pick(k)), mentionOf(RELATIONS[f.relation].value, f.value)));
  }
  return rng.shuffle(docs).join('\n\n') + '\n';
}

/**
 * Calibration text: the same world, a different mix. Each statement comes from the
 * calibration-only templates half of the time and from the training statements otherwise;
 * paragraphs are about random entities and hold a random subset of their facts.
 */
export function buildCalibrationText(facts: readonly Fact[], rng: Rng, options: CalibrationTextOptions = DEFAULT_CALIBRATION_TEXT): string {
  const groups = factsBySubject(facts);
  const docs: string[] = [];
  let bytes = 0;
  while (bytes < options.targetBytes) {
    let doc: string;
    if (rng.next() < options.questionShare) {
      const f = rng.pick(facts);
      doc = formatQuestionAnswer(renderQuestion(f, rng.pick(TEMPLATES[f.relation].questions)), mentionOf(RELATIONS[f.relation].value, f.value));
    } else {
      const group = rng.pick(groups);
      const chosen = rng.sample(group, rng.int(Math.min(2, group.length), group.length));
      doc = chosen.map((f) => {
        const t = TEMPLATES[f.relation];
        return renderStatement(f, rng.pick(rng.next() < 0.5 ? t.calibration : t.statements));
      }).join(' ');
    }
    docs.push(doc);
    bytes += doc.length + 2;
  }
  return docs.join('\n\n') + '\n';
}
