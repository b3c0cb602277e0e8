// Invented names for the demo world: 2-3 syllables built from a small onset/vowel/coda
// inventory, capitalised, unique across the whole world. The model must learn every fact
// from our corpus alone, so a name that is a real word or a real place would smuggle in
// prior knowledge (or prior confusion) and spoil the "does the compressed model forget
// what it learned" measurement; the inventory leans on k/v/z/th/x to keep names foreign,
// and a blacklist catches the real words the inventory can still spell.
import type { Rng } from './demo-random.ts';

const ONSETS = ['b', 'd', 'f', 'g', 'k', 'l', 'm', 'n', 'p', 'r', 's', 't', 'v', 'z', 'b', 'd', 'k', 'l', 'm', 'n', 'r', 's', 't', 'v', 'br', 'dr', 'kr', 'tr', 'th', 'st'];
const VOWELS = ['a', 'e', 'i', 'o', 'u', 'a', 'e', 'o', 'ae', 'ei'];
const MID_CODAS = ['', '', '', '', 'n', 'r', 'l', 's'];
const FINAL_CODAS = ['', '', 'n', 'r', 'l', 's', 'k', 'th', 'x', 'v', 'nd'];
// A name must carry one of these, which English words and common names rarely combine.
const FOREIGN = /k|v|z|th|x/;

/** Real words and names the inventory can spell (checked by eye over many seeds). */
const REAL_WORDS = new Set([
  'kansas', 'texas', 'venus', 'vienna', 'kiev', 'kabul', 'vera', 'vesta', 'kilo', 'karma', 'koran', 'tiber', 'volga', 'neva', 'kira', 'kara',
  'venom', 'vitamin', 'zebra', 'kosovo', 'kazan', 'kerala', 'kenton', 'kevin', 'victor', 'viktor', 'vivian', 'vivid', 'vodka', 'volta', 'zeta',
  'kappa', 'delta', 'sigma', 'tokyo', 'kyoto', 'oslo', 'riga', 'sofia', 'vilnius', 'zurich', 'zagreb', 'nikon', 'kodak', 'nokia', 'toyota',
  'tesla', 'volvo', 'fiat', 'skoda', 'lexus', 'rolex', 'xerox', 'kleenex', 'latex', 'index', 'vortex', 'vertex', 'reflex', 'complex', 'annex',
  'helix', 'matrix', 'phoenix', 'felix', 'max', 'rex', 'alex', 'kevlar', 'silk', 'milk', 'desk', 'disk', 'task', 'mask', 'risk', 'brisk',
  'kiln', 'kin', 'king', 'kind', 'kink', 'skin', 'skill', 'vanda', 'vida', 'viva', 'diva', 'nova', 'lava', 'java', 'kava', 'guava', 'ova',
  'velvet', 'seven', 'eleven', 'given', 'driven', 'raven', 'haven', 'oven', 'woven', 'even', 'never', 'river', 'fever', 'lever', 'clever',
  'silver', 'sliver', 'liver', 'giver', 'diver', 'driver', 'over', 'cover', 'lover', 'rover', 'mover', 'token', 'spoken', 'broken', 'woken',
  'taken', 'kitten', 'bacon', 'deacon', 'beacon', 'thin', 'think', 'thank', 'theme', 'thor', 'thorn', 'throne', 'thrive', 'bath', 'math',
  'path', 'moth', 'sloth', 'broth', 'birth', 'earth', 'fourth', 'north', 'worth', 'zero', 'zone', 'zen', 'zinc', 'zulu', 'kenya', 'tonga',
  'vanuatu', 'kiribati', 'zambia', 'eskimo', 'kimono', 'karate', 'kebab', 'kale', 'kelp', 'kiwi', 'koala', 'skate', 'snake', 'stake',
  'stroke', 'smoke', 'spoke', 'broke', 'token', 'velour', 'valor', 'valve', 'vase', 'vast', 'vine', 'vole', 'vote', 'vein', 'veil', 'veto',
  'vigor', 'visor', 'viper', 'vapor', 'savor', 'favor', 'flavor', 'kirov', 'kursk', 'minsk', 'omsk', 'tomsk', 'pinsk', 'dvorak', 'bravo',
  'devi', 'kali', 'vishnu', 'shiva', 'zeus', 'loki', 'odin', 'thor', 'freya', 'kent', 'kirk', 'vikram', 'karin', 'karen', 'kathrin', 'kristen', 'soren', 'sven', 'tova', 'vesna', 'zora', 'zola', 'zelda', 'vince', 'vito', 'kobe', 'kato', 'saki', 'suki', 'taka', 'toki',
]);

export interface NameRules {
  minSyllables: number;
  maxSyllables: number;
}

function syllable(rng: Rng, final: boolean): string {
  return rng.pick(ONSETS) + rng.pick(VOWELS) + rng.pick(final ? FINAL_CODAS : MID_CODAS);
}

/** A candidate name (lower case), or null when it breaks a spelling rule. */
function candidate(rng: Rng, rules: NameRules): string | null {
  const n = rng.int(rules.minSyllables, rules.maxSyllables);
  let word = '';
  for (let i = 0; i < n; i++) {
    const s = syllable(rng, i === n - 1);
    // No doubled letters across a join ("kk", "ll"): they read as misspellings.
    if (word.length > 0 && word[word.length - 1] === s[0]) return null;
    // At most two consonant letters in a row ("th" counts as one), so names stay easy to say.
    if (/[^aeiou]{3}/.test((word + s).replaceAll('th', 'T'))) return null;
    word += s;
  }
  if (word.length < 4 || word.length > 10) return null;
  if (!FOREIGN.test(word)) return null;
  return word;
}

/**
 * Returns a function that draws a fresh name each call, never repeating one it (or any
 * generator sharing `taken`) has given out, and never one of the `reserved` words (the
 * template vocabulary, lower case), so a name is never also an ordinary token.
 */
export function createNameSource(rng: Rng, taken: Set<string>, reserved: ReadonlySet<string>): (rules: NameRules) => string {
  return (rules) => {
    for (let attempt = 0; attempt < 10_000; attempt++) {
      const word = candidate(rng, rules);
      if (word === null || taken.has(word) || reserved.has(word) || REAL_WORDS.has(word)) continue;
      taken.add(word);
      return word[0]!.toUpperCase() + word.slice(1);
    }
    throw new Error('name source exhausted: too many names for the syllable inventory');
  };
}
