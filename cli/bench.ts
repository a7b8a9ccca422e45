/**
 * `membench bench`: flags -> `bench()` -> the bench renderers.
 *
 * @module
 */
import {
  bench,
  type BenchOptions,
  type BenchResult,
  resolveBenchOptions,
  type TestResult,
} from "../lib/bench/mod.ts";
import {
  type BenchHonesty,
  type BenchTextFlags,
  benchThresholds,
  hinted,
  HONESTY_FLAGS,
  judgeBench,
  repeatBench,
  textOptions,
  warnBench,
} from "./bench_honesty.ts";
import {
  formatBenchCsv,
  formatBenchHdrLog,
  formatBenchJson,
  formatBenchProgress,
  formatBenchQuiet,
  formatBenchText,
  formatMergeSummary,
  formatNodeCsv,
} from "../lib/report/mod.ts";
import { parseRatio } from "../lib/workload/mod.ts";
import {
  AUTH_FLAGS,
  OUTPUT_FLAGS,
  PROTOCOL_FLAG,
  SERVER_METRICS_FLAGS,
  serverMetricsFrom,
  serverSnapshotOutputs,
  TARGET_FLAGS,
  targetsFrom,
  TLS_FLAGS,
  tlsFrom,
} from "./common_flags.ts";
import {
  bool,
  type CommandSpec,
  defined,
  duration,
  int,
  list,
  num,
  oneOf,
  type ParsedArgs,
  type Problems,
  rate,
  text,
  withSpec,
} from "./flags.ts";
import { runCommand, type RunContext } from "./runner.ts";
import { runLocalShards, SHARD_FLAGS, shardOf, withoutFlags } from "./shards.ts";
import { vecBenchAlias, vectorBenchTests } from "./vec.ts";

const BENCH_FLAGS = {
  ...TARGET_FLAGS,
  protocol: withSpec(PROTOCOL_FLAG, {
    help: "resp, memcache-text, memcache-meta or memcache-binary (memtier's memcache_text and " +
      "memcache_binary are accepted too)",
    defaultText: "resp",
  }),
  ...AUTH_FLAGS,
  ...TLS_FLAGS,
  dbnum: int({ value: "N", aliases: ["db"], section: "Connection", help: "SELECT this database" }),
  resp3: bool({ short: "3", section: "Connection", help: "speak RESP3 (HELLO 3)" }),
  clientName: text({
    value: "NAME",
    section: "Connection",
    help: "CLIENT SETNAME",
    defaultText: "membench",
  }),
  connectTimeout: duration({
    value: "D",
    section: "Connection",
    help: "connect timeout",
    defaultText: "5s",
  }),
  timeout: duration({
    value: "D",
    section: "Connection",
    help: "reply timeout",
    defaultText: "10s",
  }),
  clients: int({
    short: "c",
    value: "N",
    min: 1,
    section: "Load",
    help: "connections",
    defaultText: "50",
  }),
  requests: int({
    short: "n",
    value: "N",
    min: 1,
    section: "Load",
    help: "requests per test",
    defaultText: "100000",
  }),
  duration: duration({
    value: "D",
    aliases: ["test-time"],
    section: "Load",
    help: 'run each test for D ("30s", "2m") instead of -n (memtier --test-time)',
  }),
  warmup: duration({
    value: "D",
    section: "Load",
    help: "warm-up per test, excluded from results",
    defaultText: "0",
  }),
  pipeline: int({
    short: "P",
    value: "N",
    min: 1,
    section: "Load",
    help: "requests in flight per connection",
    defaultText: "1",
  }),
  threads: int({
    value: "N",
    min: 1,
    section: "Load",
    help: "worker threads, each owning its share of the connections",
    defaultText: "1",
  }),
  io: oneOf(["auto", "uring", "deno"], {
    value: "KIND",
    section: "Load",
    help: "hot-loop I/O: uring (Linux io_uring through libc, plain TCP to an IP address), deno " +
      "(Deno sockets: also TLS, unix sockets, host names), or auto (uring where it can)",
    defaultText: "auto",
  }),
  cluster: bool({
    section: "Cluster",
    help:
      "cluster mode: the target(s) are seeds; discover the nodes (CLUSTER SHARDS/SLOTS/NODES), " +
      "send each request to its key's slot owner, follow MOVED/ASK/TRYAGAIN/CLUSTERDOWN (on by " +
      "itself for an ElastiCache configuration or MemoryDB cluster endpoint)",
  }),
  rfr: oneOf(["primary", "prefer-replica", "replica", "any"], {
    value: "MODE",
    section: "Cluster",
    help: "where reads go: primary, prefer-replica, replica (round-robin over the slot owner's " +
      "replicas) or any; writes always go to primaries. Without --cluster: the target is a " +
      "standalone primary (or one of its replicas), its replicas found by ROLE",
    defaultText: "primary",
  }),
  balanceNodes: bool({
    section: "Cluster",
    help: "with --cluster, keep every node's share of requests within the tolerance of its fair " +
      "share (a request for a node over quota draws another key)",
  }),
  clusterAffinity: bool({
    section: "Cluster",
    help: "with --cluster, each client talks to one primary and draws keys in its slots, as " +
      "redis-benchmark --cluster does (larger pipelined batches per connection; the clients " +
      "share the request count, so a faster node's clients do more)",
  }),
  clusterTags: bool({
    section: "Cluster",
    help: "with --cluster, redis-benchmark --cluster's keys: each client on one primary " +
      "(implies --cluster-affinity) with keys carrying a hash tag of that primary's " +
      "(key:{tag}:id), all in one slot; MSET/MGET need no hash tag of their own",
  }),
  nodeCsv: text({
    value: "FILE",
    section: "Cluster",
    help: "per-node CSV (one row per test and node: requests, ops/s, share, latency, errors, " +
      "redirects) to FILE, or '-' for stdout; with --cluster or --rfr",
  }),
  balanceTolerance: num({
    value: "PCT",
    above: 0,
    section: "Cluster",
    help: "with --balance-nodes, the allowed excess over the fair share, percent",
    defaultText: "10",
  }),
  rate: rate({
    value: "R",
    section: "Load",
    help: 'open loop at R requests/s in total ("50000", "50k/s"); latency is then measured from ' +
      "each request's intended send time",
  }),
  arrival: oneOf(["constant", "poisson"], {
    value: "KIND",
    section: "Load",
    help: "constant or poisson arrivals in open loop",
    defaultText: "constant",
  }),
  lateThreshold: duration({
    value: "D",
    section: "Load",
    help: "a send later than this is counted late",
    defaultText: "1ms",
  }),
  tests: list({
    short: "t",
    value: "LIST",
    section: "Workload",
    help: "tests: ping, set, get, incr, lpush, rpush, lpop, rpop, sadd, hset, spop, zadd, " +
      "zpopmin, lrange_100, lrange_300, lrange_500, lrange_600, mset, mget (default ping,set,get); " +
      "memcached: set, get, gets, gat, gats, add, replace, append, prepend, delete, incr, decr, " +
      "touch, version (default set,get); comma-separated, without spaces",
  }),
  command: text({
    value: "TEMPLATE",
    multiple: true,
    section: "Workload",
    help: 'a custom test, e.g. "HSET h:__key__ f __data__"',
  }),
  mix: text({
    value: "LIST",
    section: "Workload",
    help: 'one run with a weighted mix: "get:0.8,set:0.2"',
  }),
  ratio: text({
    value: "SET:GET",
    section: "Workload",
    help: "memtier's ratio, e.g. 1:10 (one mixed run)",
  }),
  keyspace: int({
    short: "r",
    value: "N",
    min: 1,
    aliases: ["key-maximum"],
    section: "Workload",
    help: "distinct keys (redis-benchmark -r; memtier --key-maximum)",
    defaultText: "1",
  }),
  keyPrefix: text({
    value: "P",
    section: "Workload",
    help: "prefix of __key__",
    defaultText: '"key:"',
  }),
  keyPattern: text({
    value: "P",
    section: "Workload",
    help: "sequential | uniform | zipf[:EXP] | gaussian[:MEAN:STDDEV]",
    defaultText: "uniform",
  }),
  dataSize: text({
    short: "d",
    value: "N",
    section: "Workload",
    help: "value size in bytes",
    defaultText: "3",
  }),
  dataSizeRange: text({ value: "MIN-MAX", section: "Workload", help: "uniform sizes (memtier)" }),
  dataSizeList: text({ value: "S:W,S:W", section: "Workload", help: "weighted sizes (memtier)" }),
  seed: int({
    value: "N",
    section: "Workload",
    help: "seed for keys and sizes",
    defaultText: "random; printed",
  }),
  multiget: int({
    value: "N",
    min: 1,
    section: "memcached",
    help: "keys per get/gets/gat/gats request (text get k1 k2 …, meta mg … q + mn, binary " +
      "GETKQ … + NOOP)",
    defaultText: "1",
  }),
  noreply: bool({
    section: "memcached",
    help: "writes without replies (text noreply, meta q, binary quiet opcodes), each fenced by " +
      "mn/NOOP so that errors are still counted",
  }),
  ttl: int({
    value: "SECONDS",
    section: "memcached",
    help: "expiry of writes, touch and gat (0: never)",
    defaultText: "0",
  }),
  flags: int({
    value: "N",
    section: "memcached",
    help: "client flags stored with each value",
    defaultText: "0",
  }),
  ...SHARD_FLAGS,
  ...SERVER_METRICS_FLAGS,
  quiet: bool({ short: "q", section: "Output", help: "one line per test, as redis-benchmark -q" }),
  csv: bool({ section: "Output", help: "CSV on stdout" }),
  json: { ...OUTPUT_FLAGS.json, spec: { ...OUTPUT_FLAGS.json.spec, aliases: ["json-out-file"] } },
  ...HONESTY_FLAGS,
  hdrLog: text({
    value: "FILE",
    section: "Output",
    help: "HdrHistogram interval log (one interval per second per command)",
  }),
  noProgress: OUTPUT_FLAGS.noProgress,
};

/** `membench bench`: name, help and flags. */
export const BENCH: CommandSpec<typeof BENCH_FLAGS> = {
  name: "bench",
  summary: "load-test Valkey/Redis or memcached (redis-benchmark, memtier and memaslap flags)",
  usage: ["membench bench [flags] [COMMAND ARGS...]"],
  about:
    "A trailing command is a custom test, as in redis-benchmark: membench bench -r 1000 lpush mylist __rand_int__\n" +
    "Placeholders: __key__ (prefix + key id), __rand_int__ (12-digit key id), __data__ (the value).",
  flags: BENCH_FLAGS,
  footer:
    "Exit codes: 0 ok, 2 invalid flags, 3 connection/auth failure, 4 a --threshold failed or a " +
    "test had no successful request (the first error and a hint on stderr), 130 interrupted " +
    "(partial results printed).",
};

// The flags `--shards N` sets for each shard process itself (the outputs are the merge's).
const LOCAL_SHARD_OWN = [
  "shards",
  "shard",
  "seed",
  "startAt",
  "json",
  "csv",
  "quiet",
  "hdrLog",
  "nodeCsv",
  "noProgress",
  "serverCsv",
  "serverHtml",
  "metricsSnapshot",
  "compareSnapshot",
  "threshold", // judged on the merged result, as one run's
];

interface BenchRun {
  options: BenchOptions;
  values: ParsedArgs<typeof BENCH_FLAGS>["values"];
  /** Thresholds, warnings and repeats (`cli/bench_honesty.ts`). */
  honesty: BenchHonesty;
}

/** Flag values -> bench options; problems collected (the library's checks too, when any). */
async function benchOptions(
  { values: v, positionals, given }: ParsedArgs<typeof BENCH_FLAGS>,
  problems: Problems,
): Promise<BenchRun> {
  const memcached = v.protocol?.startsWith("memcache") ?? false;
  const targets = targetsFrom(v, memcached ? 11211 : 6379);
  const tests = [...(v.tests ?? []), ...v.command];
  if (positionals.length > 0) {
    tests.push(positionals.map((p) => /\s/.test(p) ? JSON.stringify(p) : p).join(" "));
  }
  if (given.has("mix") && given.has("ratio")) {
    problems.add("Cannot use flags '--mix' and '--ratio' together: choose one");
  }
  const sizes = [v.dataSize, v.dataSizeRange, v.dataSizeList].filter((x) => x !== undefined);
  if (sizes.length > 1) {
    problems.add(
      "Cannot use more than one of '--data-size', '--data-size-range' and '--data-size-list'",
    );
  }
  const o: BenchOptions = {
    target: targets.length === 1 ? targets[0]! : targets,
    ...defined({
      password: v.password,
      user: v.user,
      db: v.dbnum,
      resp3: v.resp3 || undefined,
      protocol: v.protocol,
      multiget: v.multiget,
      noreply: v.noreply || undefined,
      ttl: v.ttl,
      flags: v.flags,
      tls: await tlsFrom(v, problems),
      clientName: v.clientName,
      connectTimeoutMs: v.connectTimeout,
      requestTimeoutMs: v.timeout,
      clients: v.clients,
      requests: v.requests,
      pipeline: v.pipeline,
      threads: v.threads,
      keyspace: v.keyspace,
      seed: v.seed,
      durationMs: v.duration,
      warmupMs: v.warmup,
      rate: v.rate,
      arrival: v.arrival,
      io: v.io,
      lateThresholdUs: v.lateThreshold === undefined ? undefined : v.lateThreshold * 1000,
      tests: tests.length > 0 ? tests : undefined,
      mix: v.mix ?? (v.ratio === undefined ? undefined : problems.try(() => parseRatio(v.ratio!))),
      keyPrefix: v.keyPrefix,
      keyPattern: v.keyPattern,
      dataSize: sizes[0],
      serverMetrics: serverMetricsFrom(v),
      cluster: v.cluster || undefined,
      rfr: v.rfr,
      balanceNodes: v.balanceNodes || undefined,
      clusterAffinity: v.clusterAffinity || undefined,
      clusterTags: v.clusterTags || undefined,
      balanceTolerance: v.balanceTolerance === undefined ? undefined : v.balanceTolerance / 100,
      shard: v.shards === undefined ? shardOf(v.shard) : undefined,
      startAt: v.startAt,
    }),
  };
  if (v.nodeCsv !== undefined && !v.cluster && v.rfr === undefined) {
    problems.add("Cannot use '--node-csv' without '--cluster' or '--rfr': it lists cluster nodes");
  }
  if (v.shards !== undefined) {
    if (given.has("shard")) problems.add("Cannot use '--shards' with '--shard': choose one");
    if (v.shards > (v.clients ?? 50)) {
      problems.add(
        `Cannot use '--shards ${v.shards}': each shard needs a client; clients is ${
          v.clients ?? 50
        }`,
      );
    }
  }
  // Something is wrong already: add what the library would say, so that all of it is reported
  // at once (otherwise bench() checks the options itself).
  if (problems.list.length > 0) problems.try(() => resolveBenchOptions(o));
  return { options: o, values: v, honesty: benchThresholds(v, problems) };
}

/**
 * The text (or `-q`) report printed test by test: the header when the run starts, each test's
 * table as soon as that test ends, and the closing lines at the end. Together they are the text
 * `formatBenchText` (`formatBenchQuiet`) gives for the whole result.
 */
function benchStream(
  quiet: boolean,
  textOpts: Parameters<typeof formatBenchText>[1],
  ctx: RunContext,
): {
  start(r: BenchResult): void;
  testEnd(t: TestResult, r: BenchResult): void;
  end(r: BenchResult): void;
} {
  // The text of a result without its closing lines, as lines.
  const lines = (r: BenchResult, tests: TestResult[], setup: BenchResult["setup"]) => {
    const { failure: _failure, ...rest } = r;
    return formatBenchText({ ...rest, tests, setup, interrupted: false }, textOpts).trimEnd()
      .split("\n");
  };
  const setupShown = new Set<string>();
  const newSetup = (r: BenchResult) =>
    r.setup.filter((s) => {
      const key = `${s.command}\0${s.why}`;
      if (setupShown.has(key)) return false;
      setupShown.add(key);
      return true;
    });
  return {
    start(r) {
      if (!quiet) ctx.print(lines(r, [], newSetup(r)).join("\n"));
    },
    testEnd(t, r) {
      if (quiet) {
        ctx.print(formatBenchQuiet({ ...r, tests: [t] }).trimEnd());
        return;
      }
      // Setup that ran for this test (LRANGE's list), then its table.
      const setup = lines(r, [], newSetup(r)).slice(1);
      ctx.print([...setup, ...lines(r, [t], []).slice(1)].join("\n"));
    },
    end(r) {
      if (quiet) return;
      // The closing lines (failure, interrupted) after the tables already printed.
      const closing = formatBenchText({ ...r, tests: [], setup: [] }, textOpts).trimEnd()
        .split("\n").slice(1);
      if (closing.length > 0) ctx.print(closing.join("\n"));
    },
  };
}

/** `membench bench`: returns the exit code. */
export function benchCommand(argv: readonly string[]): Promise<number> {
  // `-t vec-load,vec-query --dataset FILE`: the vector benchmark (`membench vec run`).
  if (vectorBenchTests(argv) !== undefined) return vecBenchAlias(argv);
  return runCommand({
    spec: BENCH,
    prepare: benchOptions,
    async run({ options, values: v, honesty }, ctx) {
      warnBench(options, ctx);
      if (honesty.runs !== undefined) return await repeatBench(options, v, honesty, ctx);
      // Text and -q: each test printed as it ends (one process; --shards merges at the end).
      const stream = v.shards === undefined && v.json !== "-" && !v.csv
        ? benchStream(v.quiet, textOptions(v), ctx)
        : undefined;
      const result = v.shards !== undefined
        ? await runLocalShards({
          args: ["bench", ...withoutFlags(BENCH_FLAGS, argv, LOCAL_SHARD_OWN)],
          shards: v.shards,
          seed: options.seed ?? Math.floor(Math.random() * 2 ** 32),
          clients: options.clients ?? 50,
          ...(v.startAt !== undefined ? { startAt: v.startAt } : {}),
        }, ctx)
        : await hinted(
          options,
          bench({
            ...options,
            signal: ctx.signal,
            onProgress: (p) => ctx.progress(formatBenchProgress(p)),
            ...(stream ? { onStart: stream.start, onTestEnd: stream.testEnd } : {}),
          }),
        );
      if (v.json === "-") ctx.print(formatBenchJson(result).trimEnd());
      else if (v.csv) ctx.print(formatBenchCsv(result).trimEnd());
      else if (stream) stream.end(result);
      else if (v.quiet) ctx.print(formatBenchQuiet(result).trimEnd());
      else ctx.print(formatBenchText(result, textOptions(v)).trimEnd());
      if (v.json !== undefined && v.json !== "-") await ctx.output(v.json, formatBenchJson(result));
      if (v.hdrLog !== undefined) await ctx.output(v.hdrLog, formatBenchHdrLog(result));
      if (v.nodeCsv === "-") ctx.print(formatNodeCsv(result).trimEnd());
      else if (v.nodeCsv !== undefined) await ctx.output(v.nodeCsv, formatNodeCsv(result));
      if (result.shards) ctx.note(`membench: ${formatMergeSummary(result.shards)}`);
      const servers = Object.fromEntries(
        result.tests.filter((t) => t.server).map((t) => [t.name, t.server!]),
      );
      if (Object.keys(servers).length > 0) await serverSnapshotOutputs(v, servers, ctx);
      return judgeBench([result], v as BenchTextFlags, honesty, ctx);
    },
  }, argv);
}
