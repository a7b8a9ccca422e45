/**
 * Run shards from the command line: the `--shard I/N`, `--shards N` and `--start-at` flags, the
 * shard a pod takes from its environment, and `--shards N` on one machine: N membench processes,
 * each running its shard, merged into one result (what the tests and `bench/shards_compare.ts`
 * use; on Kubernetes the pods are the processes).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type BenchResult, mergeBenchResults } from "../lib/bench/mod.ts";
import { EXIT, MembenchError } from "../lib/errors/mod.ts";
import { K8S_DENO_PERMISSIONS } from "../lib/k8s/mod.ts";
import { shardFromEnv, type ShardSpec } from "../lib/workload/mod.ts";
import { type FlagSet, int, parseArgsOptions, text } from "./flags.ts";
import type { RunContext } from "./runner.ts";

/** The shard flags of bench (and of the commands that take shards). */
export const SHARD_FLAGS = {
  shard: text({
    value: "I/N",
    section: "Shards",
    env: "MEMBENCH_SHARD",
    help: "run shard I (from 0) of N: its clients, requests and rate; N shards together do what " +
      "one run does (merge them with membench merge). In a Kubernetes Indexed Job, " +
      "JOB_COMPLETION_INDEX with MEMBENCH_SHARDS=N gives it",
  }),
  shards: int({
    value: "N",
    min: 1,
    section: "Shards",
    help: "run N shards as N processes on this machine and merge them",
  }),
  startAt: text({
    value: "TIME",
    section: "Shards",
    help: "connect, then begin at this wall-clock time (2026-11-30T01:00:00Z, or +30s) so that " +
      "shards on several machines start together",
  }),
};

/** The shard to run: `--shard`/`MEMBENCH_SHARD`, else an Indexed Job's index. */
export function shardOf(flag: string | undefined): string | ShardSpec | undefined {
  return flag ?? shardFromEnv(Deno.env.toObject());
}

/**
 * `argv` without the given flags (any of their forms: `--name V`, `--name=V`, `-s V`, `-s`),
 * so that a command line can be re-run with other outputs.
 */
export function withoutFlags(flags: FlagSet, argv: readonly string[], keys: string[]): string[] {
  const { tokens } = parseArgs({
    args: [...argv],
    options: parseArgsOptions(flags),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const names = new Set<string>();
  for (const k of keys) {
    const f = flags[k];
    if (!f) continue;
    names.add(f.spec.name ?? k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
    for (const a of f.spec.aliases ?? []) names.add(a);
  }
  const drop = new Set<number>();
  for (const t of tokens) {
    if (t.kind !== "option" || !names.has(t.name)) continue;
    if (argv[t.index] !== t.rawName && !t.inlineValue) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use '${t.rawName}' in a group of short flags with --shards: write it on its own`,
      );
    }
    drop.add(t.index);
    if (t.value !== undefined && !t.inlineValue) drop.add(t.index + 1);
  }
  return argv.filter((_, i) => !drop.has(i));
}

/** Options for {@linkcode runLocalShards}. */
export interface LocalShardsOptions {
  /** The command (`bench`) and its arguments, without the shard and output flags. */
  args: string[];
  /** Shards. */
  shards: number;
  /** The run's seed (every shard draws from it). */
  seed: number;
  /** Wall-clock start, or by default 2 s plus a little per client from now. */
  startAt?: string;
  /** Clients of the whole run (to give connecting time). */
  clients: number;
}

/**
 * Runs N shards of a command as N membench processes on this machine, each writing its result
 * as JSON, and merges them. A shard that fails makes the merge fail naming it (with the end of
 * what it printed); Ctrl+C is passed on to every shard, and their partial results are merged.
 */
export async function runLocalShards(o: LocalShardsOptions, ctx: RunContext): Promise<BenchResult> {
  const dir = await Deno.makeTempDir({ prefix: "membench-shards-" });
  const start = o.startAt ??
    new Date(Date.now() + 2000 + Math.min(30_000, o.clients * 0.2)).toISOString();
  const main = new URL("./main.ts", import.meta.url).pathname;
  const config = new URL("../deno.json", import.meta.url).pathname;
  try {
    const children = Array.from({ length: o.shards }, (_, i) => {
      const file = `${dir}/shard-${i}.json`;
      const cmd = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--config",
          config,
          ...K8S_DENO_PERMISSIONS, // the permissions membench runs with, as a pod's does
          main,
          ...o.args,
          "--shard",
          `${i}/${o.shards}`,
          "--seed",
          String(o.seed),
          "--start-at",
          start,
          "--json",
          file,
          "-q",
          "--no-progress",
        ],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: { MEMBENCH_SHARD: "" },
      });
      const child = cmd.spawn();
      return { i, file, child, out: child.output() };
    });
    const onAbort = () => {
      for (const c of children) {
        try {
          c.child.kill("SIGINT");
        } catch { /* already gone */ }
      }
    };
    ctx.signal.addEventListener("abort", onAbort, { once: true });
    ctx.progress(`${o.shards} shards: running, start at ${start}`);
    const outs = await Promise.all(children.map((c) => c.out));
    ctx.signal.removeEventListener("abort", onAbort);
    const results: BenchResult[] = [];
    const broken: string[] = [];
    let code = 0;
    for (const [k, c] of children.entries()) {
      const out = outs[k]!;
      let r: BenchResult | undefined;
      try {
        r = JSON.parse(await Deno.readTextFile(c.file)) as BenchResult;
      } catch { /* no result: the shard failed before writing one */ }
      if (r) results.push(r);
      // Exit 4 (a test with no successful request) still wrote its result: the merge judges it.
      if (!r || (out.code !== 0 && out.code !== 130 && out.code !== EXIT.threshold)) {
        const said = new TextDecoder().decode(out.stderr).trim().split("\n").slice(-3).join(" / ");
        broken.push(`shard ${c.i} exited ${out.code}${said ? `: ${said}` : ""}`);
        if (code === 0) code = out.code;
      }
    }
    const interrupted = ctx.signal.aborted;
    if (broken.length > 0 && !interrupted) {
      // The exit code a single run would have given.
      const kind = code === EXIT.usage
        ? "invalid_argument"
        : code === EXIT.connection
        ? "connection"
        : code === EXIT.input
        ? "file"
        : "internal";
      throw new MembenchError(kind, `Cannot merge ${o.shards} shards: ${broken.join("; ")}`);
    }
    return mergeBenchResults(results, { shards: o.shards, allowIncomplete: interrupted });
  } finally {
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  }
}
