/**
 * `run.bench()`: a bench phase. The scenario's target, protocol and seed are the defaults; the
 * options are checked before any load; the servers are probed after it.
 *
 * @module
 */
import {
  bench,
  type BenchOptions,
  type BenchResult,
  resolveBenchOptions,
} from "../../bench/mod.ts";
import { parseTarget } from "../../net/mod.ts";
import { benchMetrics } from "../metrics.ts";
import type { PhaseContext, PhaseOptions } from "../phase.ts";
import type { ServerInfo } from "../server_info.ts";
import { anySignal } from "../_util.ts";

/** Options of {@linkcode Run.bench}: the bench's own and the phase's. */
export type BenchPhaseOptions = BenchOptions & PhaseOptions;

/** Runs a bench phase in the scenario `ctx`. */
export function benchPhase(ctx: PhaseContext, o: BenchPhaseOptions): Promise<BenchResult> {
  const { name: given, thresholds, warnings, ...bo } = o;
  const dt = bo.target === undefined ? ctx.defaultTarget() : undefined;
  // A scenario whose server is memcached benches memcached's text protocol unless told.
  const protocol = bo.protocol ?? (dt?.memcached ? "memcache-text" : undefined);
  const mc = protocol !== undefined && protocol !== "resp";
  const target = bo.target ?? dt?.target;
  const opts: BenchOptions = {
    ...bo,
    ...(protocol !== undefined ? { protocol } : {}),
    ...(target !== undefined ? { target } : {}),
    seed: bo.seed ?? ctx.seed,
    // Every phase result carries its servers' figures (server.* metrics) unless turned off.
    serverMetrics: bo.serverMetrics ?? true,
  };
  resolveBenchOptions(opts); // every problem with the options, before any load
  return ctx.run({
    kind: "bench",
    name: ctx.phaseName("bench", given),
    thresholds,
    warnings,
    shown: opts,
    exec: (signal) => bench({ ...opts, signal: anySignal(signal, bo.signal) }),
    metrics: benchMetrics,
    outcome: (r) => ({
      interrupted: r.interrupted,
      ...(r.failure ? { failure: r.failure } : {}),
    }),
    servers: async () => {
      const ts = Array.isArray(opts.target) ? opts.target : [opts.target ?? "127.0.0.1"];
      const out: ServerInfo[] = [];
      for (const t of ts) {
        const tt = typeof t === "string" ? parseTarget(t, mc ? 11211 : 6379) : { ...t };
        if (opts.password !== undefined) tt.password = opts.password;
        if (opts.user !== undefined) tt.user = opts.user;
        const mcp = protocol === "memcache-binary" ? "binary" : "text";
        out.push(await ctx.probe(tt, mc ? "memcached" : "redis", mc ? mcp : undefined));
      }
      return out;
    },
  });
}
