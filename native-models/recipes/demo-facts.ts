// The world as a flat list of facts, (relation, subject, value), which is what the corpus
// states and what the tasks ask about. A relation records which kind of thing its value
// is: the distractors of a multiple-choice item and the chance level of a cloze item are
// both "the other values of that kind".
import type { World } from './demo-world.ts';

export type EntityKind = 'person' | 'city' | 'country' | 'organisation' | 'invention';
export type ValueKind = 'city' | 'country' | 'region' | 'river' | 'year' | 'field' | 'industry' | 'organisation' | 'person';

export const RELATION_IDS = [
  'born_in', 'born_year', 'field', 'employer',
  'city_country', 'city_founded', 'city_river',
  'capital', 'region',
  'org_founder', 'org_hq', 'org_founded', 'org_industry',
  'inv_inventor', 'inv_year', 'inv_field',
] as const;
export type RelationId = (typeof RELATION_IDS)[number];

export interface RelationInfo {
  subject: EntityKind;
  value: ValueKind;
}

export const RELATIONS: Record<RelationId, RelationInfo> = {
  born_in: { subject: 'person', value: 'city' },
  born_year: { subject: 'person', value: 'year' },
  field: { subject: 'person', value: 'field' },
  employer: { subject: 'person', value: 'organisation' },
  city_country: { subject: 'city', value: 'country' },
  city_founded: { subject: 'city', value: 'year' },
  city_river: { subject: 'city', value: 'river' },
  capital: { subject: 'country', value: 'city' },
  region: { subject: 'country', value: 'region' },
  org_founder: { subject: 'organisation', value: 'person' },
  org_hq: { subject: 'organisation', value: 'city' },
  org_founded: { subject: 'organisation', value: 'year' },
  org_industry: { subject: 'organisation', value: 'industry' },
  inv_inventor: { subject: 'invention', value: 'person' },
  inv_year: { subject: 'invention', value: 'year' },
  inv_field: { subject: 'invention', value: 'field' },
};

export interface Fact {
  relation: RelationId;
  /** The entity's name as the world stores it ("Qorvane Loom", "Veloran Istek"). */
  subject: string;
  value: string;
}

/** Every fact of the world, grouped by entity in world order. */
export function worldFacts(world: World): Fact[] {
  const f = (relation: RelationId, subject: string, value: string | number): Fact => ({ relation, subject, value: String(value) });
  return [
    ...world.people.flatMap((p) => [f('born_in', p.name, p.birthplace), f('born_year', p.name, p.birthYear), f('field', p.name, p.field), f('employer', p.name, p.employer)]),
    ...world.cities.flatMap((c) => [f('city_country', c.name, c.country), f('city_founded', c.name, c.founded), f('city_river', c.name, c.river)]),
    ...world.countries.flatMap((c) => [f('capital', c.name, c.capital), f('region', c.name, c.region)]),
    ...world.organisations.flatMap((o) => [f('org_founder', o.name, o.founder), f('org_hq', o.name, o.headquarters), f('org_founded', o.name, o.founded), f('org_industry', o.name, o.industry)]),
    ...world.inventions.flatMap((i) => [f('inv_inventor', i.name, i.inventor), f('inv_year', i.name, i.year), f('inv_field', i.name, i.field)]),
  ];
}

/**
 * All values of a kind that the world uses, sorted: the candidate answers a model has to
 * choose among. Years are those that occur as a value of some year relation, so a
 * distractor year is always one the corpus mentions.
 */
export function valuesOfKind(world: World, kind: ValueKind, facts: readonly Fact[] = worldFacts(world)): string[] {
  switch (kind) {
    case 'city': return world.cities.map((c) => c.name).sort();
    case 'country': return world.countries.map((c) => c.name).sort();
    case 'region': return [...world.regions].sort();
    case 'river': return [...world.rivers].sort();
    case 'field': return [...world.fields].sort();
    case 'industry': return [...world.industries].sort();
    case 'organisation': return world.organisations.map((o) => o.name).sort();
    case 'person': return world.people.map((p) => p.name).sort();
    case 'year': return [...new Set(facts.filter((x) => RELATIONS[x.relation].value === 'year').map((x) => x.value))].sort();
  }
}

/** How text names an entity mid-sentence: inventions take "the", everything else is bare. */
export function mentionOf(kind: EntityKind | ValueKind, name: string): string {
  return kind === 'invention' ? `the ${name}` : name;
}

/** Values that are a single word: the only ones a LAMBADA-style cloze item can target. */
export function isSingleWordRelation(relation: RelationId): boolean {
  return RELATIONS[relation].value !== 'person';
}
