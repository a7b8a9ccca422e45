// This module uses no Deno APIs.
import type { ReplayResult, SynthesizeResult } from "../replay/mod.ts";
import { withSchema } from "./schemas.ts";

/** One line on what synthetic mode generated, and from which seed. */
export function formatSyntheticLine(s: SynthesizeResult, seed: number): string {
  return `synthetic: ${s.events} events, ${s.popularity} popularity over ${s.keyspace} keys` +
    `${s.exponent ? ` (exponent ${s.exponent})` : ""}, seed ${seed}, digest ${s.digest}`;
}

/** A replay result as JSON; a synthetic replay adds what was generated and its seed. */
export function formatReplayJson(
  r: ReplayResult,
  synthetic?: { result: SynthesizeResult; seed: number },
): string {
  const out = synthetic
    ? {
      ...r,
      synthetic: {
        digest: synthetic.result.digest,
        events: synthetic.result.events,
        popularity: synthetic.result.popularity,
        seed: synthetic.seed,
      },
    }
    : r;
  return JSON.stringify(withSchema("replay-result", out), null, 2) + "\n";
}
