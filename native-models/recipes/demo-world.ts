// The demo world: a small fictional encyclopedia whose facts are consistent with each
// other (a person is born in a city that already existed, an organisation is founded by
// a person when that person is an adult, a country's capital is one of its cities), so a
// model trained on it is never taught two answers to one question. Every fact is a
// (relation, subject, value) triple; the corpus and the tasks are both rendered from the
// same list, which is what lets the tests check every task item against the world.
import { createNameSource, type NameRules } from './demo-names.ts';
import { createRng } from './demo-random.ts';

export interface Person { name: string; birthplace: string; birthYear: number; field: string; employer: string }
export interface City { name: string; country: string; founded: number; river: string }
export interface Country { name: string; capital: string; region: string }
export interface Organisation { name: string; founder: string; headquarters: string; founded: number; industry: string }
/** `name` is the bare name ("Qorvane Loom"); text refers to it as "the Qorvane Loom". */
export interface Invention { name: string; inventor: string; year: number; field: string }

export interface World {
  seed: number;
  regions: string[];
  rivers: string[];
  fields: string[];
  industries: string[];
  countries: Country[];
  cities: City[];
  people: Person[];
  organisations: Organisation[];
  inventions: Invention[];
}

export interface WorldSizes {
  regions: number;
  countries: number;
  rivers: number;
  cities: number;
  people: number;
  organisations: number;
  inventions: number;
}

export const DEFAULT_SIZES: WorldSizes = { regions: 5, countries: 12, rivers: 16, cities: 40, people: 200, organisations: 40, inventions: 60 };

// Real words on purpose: the model learns what they name from our corpus, and the
// question "what field" must have plain answers. All single words, so each is one token.
export const FIELDS = ['astronomy', 'botany', 'chemistry', 'geology', 'medicine', 'mathematics', 'music', 'architecture', 'navigation', 'metallurgy', 'optics', 'linguistics'];
export const INDUSTRIES = ['shipping', 'mining', 'textiles', 'printing', 'banking', 'brewing', 'glassmaking', 'timber', 'railways', 'pottery'];
// Kinds of device an invention can be ("the Qorvane Loom").
export const DEVICE_NOUNS = ['Loom', 'Engine', 'Lamp', 'Press', 'Compass', 'Clock', 'Pump', 'Lens', 'Furnace', 'Scale', 'Gauge', 'Telescope', 'Valve', 'Mill'];

export const YEAR_MIN = 1700;
export const YEAR_MAX = 1999;

const clampYear = (y: number) => Math.min(YEAR_MAX, Math.max(YEAR_MIN, y));

/**
 * Draw a world. `reserved` (lower-case words of the templates) keeps invented names apart
 * from ordinary vocabulary. Each entity type draws from its own forked stream, so changing
 * one size leaves the names of the other types as they were.
 */
export function generateWorld(seed: number, sizes: WorldSizes = DEFAULT_SIZES, reserved: ReadonlySet<string> = new Set()): World {
  if (sizes.cities < 2 * sizes.countries) throw new Error(`need at least 2 cities per country (${sizes.cities} cities, ${sizes.countries} countries)`);
  if (sizes.organisations > sizes.people) throw new Error('every organisation needs its own founder: more organisations than people');
  const root = createRng(seed);
  const taken = new Set<string>([...reserved]);
  const names = (label: string) => createNameSource(root.fork(`names:${label}`), taken, reserved);
  const place: NameRules = { minSyllables: 2, maxSyllables: 3 };
  const nRegion = names('region'), nCountry = names('country'), nRiver = names('river'), nCity = names('city');
  const nFirst = names('first'), nLast = names('last'), nOrg = names('org'), nInvention = names('invention');

  const regions = Array.from({ length: sizes.regions }, () => nRegion(place));
  const rivers = Array.from({ length: sizes.rivers }, () => nRiver(place));

  const rc = root.fork('countries');
  const countryNames = Array.from({ length: sizes.countries }, () => nCountry(place));
  // Every region gets a country before any gets a second, so no region is empty.
  const countryRegion = countryNames.map((_, i) => (i < regions.length ? regions[i]! : rc.pick(regions)));

  const rcity = root.fork('cities');
  const cities: City[] = Array.from({ length: sizes.cities }, (_, i) => ({
    name: nCity(place),
    // The first two rounds give every country two cities; the rest are spread at random.
    country: i < 2 * countryNames.length ? countryNames[i % countryNames.length]! : rcity.pick(countryNames),
    founded: rcity.int(YEAR_MIN, 1850),
    // Rivers, like countries, are dealt out first, so every river is some city's answer.
    river: i < rivers.length ? rivers[i]! : rcity.pick(rivers),
  }));
  // The capital is the country's oldest city: a rule a reader could guess, never contradicted.
  const countries: Country[] = countryNames.map((name, i) => {
    const own = cities.filter((c) => c.country === name).sort((a, b) => a.founded - b.founded);
    return { name, capital: own[0]!.name, region: countryRegion[i]! };
  });

  const oldestCity = Math.min(...cities.map((c) => c.founded));
  const rp = root.fork('people');
  const firstNames = Array.from({ length: Math.max(8, Math.ceil(sizes.people / 3)) }, () => nFirst({ minSyllables: 2, maxSyllables: 2 }));
  const people: Person[] = Array.from({ length: sizes.people }, (_, i) => {
    // Born after the oldest city was founded, so there is always a birthplace that existed.
    const birthYear = rp.int(Math.max(1740, oldestCity), 1960);
    const possible = cities.filter((c) => c.founded <= birthYear);
    return {
      // Surnames are unique, first names repeat: like real people, and a full name stays unique.
      name: `${rp.pick(firstNames)} ${nLast({ minSyllables: 2, maxSyllables: 3 })}`,
      birthplace: rp.pick(possible).name,
      birthYear,
      field: i < FIELDS.length ? FIELDS[i]! : rp.pick(FIELDS),
      employer: '',
    };
  });

  const ro = root.fork('organisations');
  const founders = ro.sample(people, sizes.organisations);
  const organisations: Organisation[] = founders.map((founder, i) => {
    const founded = clampYear(founder.birthYear + ro.int(25, 50));
    const possible = cities.filter((c) => c.founded <= founded);
    return { name: nOrg(place), founder: founder.name, headquarters: ro.pick(possible).name, founded, industry: i < INDUSTRIES.length ? INDUSTRIES[i]! : ro.pick(INDUSTRIES) };
  });
  // A founder works for their own organisation; anyone else for one that existed by the time they were 45.
  const byFounder = new Map(organisations.map((o) => [o.founder, o]));
  const byAge = [...organisations].sort((a, b) => a.founded - b.founded);
  for (const p of people) {
    const own = byFounder.get(p.name);
    const open = organisations.filter((o) => o.founded <= p.birthYear + 45);
    p.employer = own ? own.name : (open.length > 0 ? ro.pick(open) : byAge[0]!).name;
  }

  const ri = root.fork('inventions');
  const inventions: Invention[] = Array.from({ length: sizes.inventions }, () => {
    const inventor = ri.pick(people);
    // An invention belongs to its inventor's field: a fact the corpus never contradicts.
    return { name: `${nInvention(place)} ${ri.pick(DEVICE_NOUNS)}`, inventor: inventor.name, year: clampYear(inventor.birthYear + ri.int(20, 55)), field: inventor.field };
  });

  return { seed, regions, rivers, fields: [...FIELDS], industries: [...INDUSTRIES], countries, cities, people, organisations, inventions };
}
