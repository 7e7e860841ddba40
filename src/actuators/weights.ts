/**
 * Traffic weights as replica counts: the one place a percentage becomes replicas, for every
 * target that splits traffic by replicas. At least one replica moves, so a small pair still moves.
 */
export function replicasAtWeight(total: number, weightPercent: number): number {
  return Math.max(1, Math.ceil((total * weightPercent) / 100));
}
