import type { NatsCluster } from "@conclave/testkit";
import type { BenchWorld } from "./bench-world.ts";
import type { Figure } from "./measure.ts";

/** A cluster profile of the bench: a single node, or 3 nodes with R3 buckets. */
export interface Profile {
  nodes: number;
  /** "1 node" or "3 nodes R3": part of section labels. */
  name: string;
}

export interface ClusterBench {
  cluster: NatsCluster;
  /** Bootstrapped once per cluster, shared by every section of the profile. */
  world: BenchWorld;
  profile: Profile;
}

/**
 * One section of `npm run bench` (test/bench/run.ts lists them, one line each).
 * A section with `nodes` runs on the bench's cluster of each of those sizes;
 * one without runs once, with no cluster (it starts what it needs itself).
 */
export type Section =
  | { title: string; nodes?: undefined; run: () => Promise<Figure[]> | Figure[] }
  | { title: string; nodes: readonly number[]; run: (bench: ClusterBench) => Promise<Figure[]> };

export const once = (title: string, run: () => Promise<Figure[]> | Figure[]): Section => ({ title, run });

export const onClusters = (
  title: string,
  nodes: readonly number[],
  run: (bench: ClusterBench) => Promise<Figure[]>,
): Section => ({ title, nodes, run });

export const profileOf = (nodes: number): Profile => ({ nodes, name: nodes === 1 ? "1 node" : `${nodes} nodes R3` });
