// The engine's flip sets (eval/stats.ts FlipSets) as the Compare view shows them.
import type { FlipGroup, FlipItem } from './workbench-types.ts';

export const FLIP_GROUPS: { key: string; title: string; hint: string }[] = [
  { key: 'regainedByRecovery', title: 'Recovered', hint: 'lost by compression, brought back by the recovery' },
  { key: 'lostByCompression', title: 'Lost', hint: 'right in the dense model, wrong after compression' },
  { key: 'newlyWrong', title: 'Broken by recovery', hint: 'right compressed, wrong after recovery' },
  { key: 'gainedByCompression', title: 'Gained', hint: 'wrong dense, right compressed' },
];

export function flipGroups(sets: Record<string, FlipItem[]>): FlipGroup[] {
  return FLIP_GROUPS.filter((g) => sets[g.key] !== undefined).map((g) => ({ ...g, items: sets[g.key]! }));
}
