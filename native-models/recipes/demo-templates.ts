// Sentence and question templates, per relation. {s} is the subject, {v} the value.
// Four disjoint sets, because the demo model must show knowledge, not recall of a phrasing:
// - statements: the training corpus states each fact in all of these, at random;
// - calibration: extra statements used only in calibration.txt (the compression
//   calibration split), mixed with the training statements;
// - questions: training question phrasings, in "Question: ...\nAnswer: ..." lines;
// - heldOutQuestions / heldOutCloze: used only by the evaluation tasks. Their wording, with
//   any names in the slots, never occurs in train.txt or calibration.txt (checked by
//   demo-checks.ts), but every word they use does: each token has been trained, only the
//   phrasing is new.
// A cloze template ends with {v} and no period: LAMBADA's target is the last word. Its
// context names the kind of value ("in the city of", "in the year"), since "born in" alone
// could go on with a city or a year and greedy accuracy would punish a right answer.
// No template starts with {v} where the value is a lower-case word (a field, an industry),
// so those values are always written, and tokenised, the same way.
import type { RelationId } from './demo-facts.ts';

export interface RelationTemplates {
  statements: string[];
  calibration: string[];
  questions: string[];
  heldOutQuestions: string[];
  heldOutCloze: string[];
}

export const TEMPLATES: Record<RelationId, RelationTemplates> = {
  born_in: {
    statements: ['{s} was born in {v}.', '{v} is the birthplace of {s}.', '{s} was born in the city of {v}.', 'The birthplace of {s} was {v}.', '{s} is a native of {v}.', 'In {v}, {s} was born.', '{s} came into the world in {v}.', 'The family of {s} lived in {v} when {s} was born.'],
    calibration: ['The city of {v} saw the birth of {s}.', 'The records of {v} show the birth of {s}.'],
    questions: ['Where was {s} born?', 'In which city was {s} born?', 'What is the birthplace of {s}?', 'Where does {s} come from?'],
    heldOutQuestions: ['What city was {s} born in?', 'Which city is {s} a native of?'],
    heldOutCloze: ['When {s} was born, the family lived in the city of {v}', 'The city where {s} was born is {v}'],
  },
  born_year: {
    statements: ['{s} was born in {v}.', '{s} was born in the year {v}.', 'The year {v} saw the birth of {s}.', 'Born in {v}, {s} lived a long life.', 'In {v}, {s} was born.', 'The birth year of {s} is {v}.', 'All the records show that {s} was born in {v}.'],
    calibration: ['{s}, born in {v}, is known to many.', 'The life of {s} began in {v}.'],
    questions: ['When was {s} born?', 'In which year was {s} born?', 'What is the birth year of {s}?'],
    heldOutQuestions: ['What year saw the birth of {s}?', 'In which year did {s} come into the world?'],
    heldOutCloze: ['The records show that the birth year of {s} is {v}', 'The long life of {s} began in the year {v}'],
  },
  field: {
    statements: ['{s} worked in {v}.', '{s} was known for work in {v}.', 'The field of {s} was {v}.', '{s} devoted a career to {v}.', '{s} studied {v} for many years.', 'Colleagues knew {s} as an expert in {v}.', '{s} made important discoveries in {v}.'],
    calibration: ['{s} was an important expert in {v}.', 'Colleagues came to {s} to study {v}.'],
    questions: ['What field did {s} work in?', 'In which field was {s} known?', 'What did {s} study?'],
    heldOutQuestions: ['Which field was {s} an expert in?', 'For which field is {s} known?'],
    heldOutCloze: ['For many years, {s} did important work in the field of {v}', 'The career of {s} was devoted to {v}'],
  },
  employer: {
    statements: ['{s} worked for {v}.', '{s} was employed by {v}.', '{v} employed {s}.', 'For many years, {s} worked at {v}.', '{s} held a post at {v}.', 'Among the staff of {v} was {s}.'],
    calibration: ['{s} was one of the staff of {v}.', '{s} held a post at {v} for many years.'],
    questions: ['Who employed {s}?', 'Which organisation did {s} work for?', 'Where did {s} work?'],
    heldOutQuestions: ['Which organisation employed {s}?', 'For which organisation did {s} work?'],
    heldOutCloze: ['The organisation that employed {s} for many years was {v}', 'The post that {s} held was at {v}'],
  },
  city_country: {
    statements: ['{s} is a city in {v}.', '{s} lies in {v}.', '{s} is located in {v}.', 'The city of {s} belongs to {v}.', '{v} is the country where {s} lies.', '{s} is one of the cities of {v}.'],
    calibration: ['The country of {v} is home to {s}.', '{s} is one of the many cities of {v}.'],
    questions: ['In which country is {s}?', 'Where is {s} located?', 'Which country does {s} belong to?'],
    heldOutQuestions: ['What country is the city of {s} in?', 'Which country is {s} located in?'],
    heldOutCloze: ['The city of {s} is one of the cities in the country of {v}', 'The country where the city of {s} lies is {v}'],
  },
  city_founded: {
    statements: ['{s} was founded in {v}.', 'The city of {s} was founded in the year {v}.', '{v} is the year {s} was founded.', 'Settlers founded {s} in {v}.', '{s} dates from {v}.', 'Founded in {v}, {s} grew quickly.', 'The history of {s} began in {v}.'],
    calibration: ['Settlers built {s} in {v}.', '{s} has existed since {v}.'],
    questions: ['When was {s} founded?', 'In which year was {s} founded?', 'What is the founding year of {s}?'],
    heldOutQuestions: ['What year saw the founding of {s}?', 'In which year was the city of {s} founded?'],
    heldOutCloze: ['Settlers came to {s} and founded it in the year {v}', 'The city of {s} has a history that began in the year {v}'],
  },
  city_river: {
    statements: ['{s} lies on the river {v}.', 'The river {v} flows through {s}.', '{s} is built on the banks of the {v}.', '{s} stands on the {v}.', 'The {v} runs through the city of {s}.', '{s} is a city on the river {v}.'],
    calibration: ['The banks of the {v} are home to {s}.', 'The city of {s} was built on the banks of the {v}.'],
    questions: ['Which river flows through {s}?', 'On which river does {s} lie?', 'What river runs through {s}?'],
    heldOutQuestions: ['What is the river that runs through the city of {s}?', 'On the banks of which river is {s} built?'],
    heldOutCloze: ['The river that flows through the city of {s} is the {v}', 'The city of {s} was built on the river {v}'],
  },
  capital: {
    statements: ['The capital of {s} is {v}.', '{v} is the capital of {s}.', '{s} has its capital in {v}.', '{v} is the capital city of {s}.', 'The government of {s} sits in {v}.', '{s} is governed from {v}, its capital.'],
    calibration: ['The government of {s} has its offices in {v}.', '{v}, the capital, is the city where the government of {s} sits.'],
    questions: ['What is the capital of {s}?', 'Which city is the capital of {s}?', 'Where is the government of {s}?'],
    heldOutQuestions: ['What city is {s} governed from?', 'Which city is the capital city of the country of {s}?'],
    heldOutCloze: ['The government of the country of {s} sits in the city of {v}', 'The country of {s} has a capital city, which is {v}'],
  },
  region: {
    statements: ['{s} is a country in {v}.', '{s} lies in the region of {v}.', '{v} is the region that contains {s}.', '{s} is one of the countries of {v}.', 'The country of {s} is part of {v}.', '{s} is located in {v}.'],
    calibration: ['The region of {v} is home to {s}.', '{s} is one of the many countries of {v}.'],
    questions: ['In which region is {s}?', 'Which region does {s} belong to?', 'Where is the country of {s}?'],
    heldOutQuestions: ['What region is the country of {s} part of?', 'Which region contains the country of {s}?'],
    heldOutCloze: ['The country of {s} lies in the part of the world that is {v}', 'The region that contains the country of {s} is {v}'],
  },
  org_founder: {
    statements: ['{s} was founded by {v}.', '{v} founded {s}.', 'The founder of {s} was {v}.', '{v} is the founder of {s}.', '{s} owes its existence to its founder, {v}.', '{v} started {s}.', 'It was {v} who founded {s}.', '{v} founded {s} and led it for many years.'],
    calibration: ['{v} created {s} and led it for years.', 'The first to work at {s} was its founder, {v}.'],
    questions: ['Who founded {s}?', 'Who is the founder of {s}?', 'Who started {s}?'],
    heldOutQuestions: ['Who was it that founded {s}?', 'Who was the founder of {s}?'],
    heldOutCloze: [],
  },
  org_hq: {
    statements: ['{s} has its headquarters in {v}.', '{s} is based in {v}.', 'The headquarters of {s} are in {v}.', '{v} is home to {s}.', '{s} is headquartered in {v}.', 'The offices of {s} are in {v}.'],
    calibration: ['The staff of {s} work in {v}.', 'The staff of {s} are based in {v}.'],
    questions: ['Where is {s} based?', 'Where are the headquarters of {s}?', 'In which city is {s} headquartered?'],
    heldOutQuestions: ['Which city is home to the headquarters of {s}?', 'In which city are the offices of {s}?'],
    heldOutCloze: ['The organisation {s} has its offices in the city of {v}', 'The staff of {s} work at the headquarters in the city of {v}'],
  },
  org_founded: {
    statements: ['{s} was founded in {v}.', '{s} was established in {v}.', '{v} saw the founding of {s}.', 'Founded in {v}, {s} grew over the years.', '{s} has existed since {v}.', 'The founding year of {s} is {v}.', 'The history of {s} began in {v}.'],
    calibration: ['{s} first appeared in {v}.', '{s} was started in {v}.'],
    questions: ['When was {s} founded?', 'In which year was {s} established?', 'What is the founding year of {s}?'],
    heldOutQuestions: ['What year saw the founding of the organisation {s}?', 'When was the organisation {s} established?'],
    heldOutCloze: ['The history of the organisation {s} began in the year {v}', 'The organisation {s} has existed since the year {v}'],
  },
  org_industry: {
    statements: ['{s} works in {v}.', '{s} is a company in {v}.', 'The business of {s} is {v}.', '{s} is known for {v}.', '{s} earns its money from {v}.', '{s} is active in {v}.'],
    calibration: ['{s} made its money from {v}.', '{s} is an important company in {v}.'],
    questions: ['What industry is {s} in?', 'What does {s} do?', 'What is the business of {s}?'],
    heldOutQuestions: ['Which industry is {s} active in?', 'In which industry does {s} work?'],
    heldOutCloze: ['The organisation {s} is a company that is known for {v}', 'The company {s} is active in the business of {v}'],
  },
  inv_inventor: {
    statements: ['{s} was invented by {v}.', '{v} invented {s}.', 'The inventor of {s} was {v}.', '{v} is the inventor of {s}.', '{s} is the work of {v}.', '{v} designed {s}.', 'It was {v} who invented {s}.'],
    calibration: ['The world owes {s} to {v}.', '{s} was designed by {v}.'],
    questions: ['Who invented {s}?', 'Who is the inventor of {s}?', 'Who designed {s}?'],
    heldOutQuestions: ['Who was it that invented {s}?', 'Who was the inventor of {s}?'],
    heldOutCloze: [],
  },
  inv_year: {
    statements: ['{s} was invented in {v}.', '{s} dates from {v}.', 'In {v}, {s} was invented.', '{s} first appeared in {v}.', 'The year {v} saw the invention of {s}.', '{s} was created in the year {v}.'],
    calibration: ['{s} has existed since {v}.', '{s} was first made in {v}.'],
    questions: ['When was {s} invented?', 'In which year was {s} invented?', 'What year did {s} first appear?'],
    heldOutQuestions: ['What year saw the invention of {s}?', 'In which year was {s} created?'],
    heldOutCloze: ['The invention of {s} dates from the year {v}', 'The world first saw {s} in the year {v}'],
  },
  inv_field: {
    statements: ['{s} is used in {v}.', '{s} belongs to the field of {v}.', '{s} was a breakthrough in {v}.', '{s} changed the practice of {v}.', 'Workers in {v} rely on {s}.', '{s} is a tool of {v}.'],
    calibration: ['{s} is an important tool in {v}.', 'The practice of {v} was changed by {s}.'],
    questions: ['In which field is {s} used?', 'What field does {s} belong to?', 'Which field did {s} change?'],
    heldOutQuestions: ['In the practice of which field is {s} a tool?', 'Workers in which field rely on {s}?'],
    heldOutCloze: ['The invention of {s} was a breakthrough in the field of {v}', '{s} is a tool that is used in the practice of {v}'],
  },
};

/** Fill a template; a sentence that starts with a slot gets a capital ("the X" -> "The X"). */
export function fillTemplate(template: string, subject: string, value: string): string {
  const text = template.replaceAll('{s}', subject).replaceAll('{v}', value);
  return text[0]!.toUpperCase() + text.slice(1);
}

/** Every word (lower case) the templates use, so invented names can avoid them. */
export function templateWords(): Set<string> {
  const words = new Set<string>();
  for (const t of Object.values(TEMPLATES)) {
    for (const s of [...t.statements, ...t.calibration, ...t.questions, ...t.heldOutQuestions, ...t.heldOutCloze]) {
      for (const w of s.replace(/\{[sv]\}/g, ' ').toLowerCase().match(/[a-z]+/g) ?? []) words.add(w);
    }
  }
  return words;
}
