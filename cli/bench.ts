// deno-lint-ignore-file no-console
import {
  bench,
  BENCH_PROTOCOLS,
  type BenchOptions,
  type BenchProgress,
  type BenchProtocol,
} from "../lib/bench/mod.ts";
import { MembenchError } from "../lib/errors/mod.ts";
import {
  formatBenchCsv,
  formatBenchHdrLog,
  formatBenchJson,
  formatBenchQuiet,
  formatBenchText,
} from "../lib/report/mod.ts";
import { formatRate, parseDurationMs } from "../lib/units/mod.ts";
import { parseRatio } from "../lib/workload/mod.ts";
import { intFlag, parseFlags } from "./args.ts";
import { EXIT } from "./exit_codes.ts";

export const BENCH_HELP =
  `membench bench: load-test Valkey/Redis or memcached (redis-benchmark, memtier and memaslap flags)

Usage: membench bench [flags] [COMMAND ARGS...]
  A trailing command is a custom test, as in redis-benchmark: membench bench -r 1000 lpush mylist __rand_int__
  Placeholders: __key__ (prefix + key id), __rand_int__ (12-digit key id), __data__ (the value).

Target
  -h, --host HOST         server host (default 127.0.0.1)
  -p, --port PORT         server port (default 6379; 11211 with a memcached protocol)
      --protocol P        resp (default), memcache-text, memcache-meta or memcache-binary
                          (memtier's memcache_text and memcache_binary are accepted too)
  -s, --socket PATH       unix socket instead of host/port
  -u, --uri URI           redis://[user:pass@]host:port/db or rediss:// (TLS); repeat for several servers
      --server HOST:PORT  another server (repeatable); clients are spread round-robin
  -a, --password PASS     AUTH password (or set REDISCLI_AUTH; never printed); for memcached,
                          SASL PLAIN (binary) or the -Y ASCII authentication (text, meta)
      --user NAME         ACL user
      --dbnum N, --db N   SELECT this database
  -3, --resp3             speak RESP3 (HELLO 3)
      --tls               use TLS; --cacert FILE, --cert FILE, --key FILE, --sni NAME
      --tls-skip-hostname-check   accept a certificate whose name does not match (chain still checked)
      --client-name NAME  CLIENT SETNAME (default membench)
      --connect-timeout D connect timeout (default 5s); --timeout D reply timeout (default 10s)

Load
  -c, --clients N         connections (default 50)
  -n, --requests N        requests per test (default 100000)
      --duration D        run each test for D ("30s", "2m") instead of -n (memtier --test-time)
      --warmup D          warm-up per test, excluded from results (default 0)
  -P, --pipeline N        requests in flight per connection (default 1)
      --threads N         worker threads, each owning its share of the connections (default 1)
      --io KIND           hot-loop I/O: uring (Linux io_uring through libc, plain TCP to an IP
                          address), deno (Deno sockets: also TLS, unix sockets, host names), or
                          auto (default: uring where it can)
      --rate R            open loop at R requests/s in total ("50000", "50k/s"); latency is then
                          measured from each request's intended send time
      --arrival KIND      constant (default) or poisson arrivals in open loop
      --late-threshold D  a send later than this is counted late (default 1ms)

Workload
  -t, --tests LIST        tests: ping,set,get,incr,lpush,rpush,lpop,rpop,sadd,hset,spop,zadd,zpopmin,
                          lrange_100,lrange_300,lrange_500,lrange_600,mset,mget (default ping,set,get)
                          memcached: set,get,gets,gat,gats,add,replace,append,prepend,delete,incr,
                          decr,touch,version (default set,get)
      --command TEMPLATE  a custom test (repeatable), e.g. "HSET h:__key__ f __data__"
      --mix LIST          one run with a weighted mix: "get:0.8,set:0.2"
      --ratio SET:GET     memtier's ratio, e.g. 1:10 (one mixed run)
  -r, --keyspace N        distinct keys (redis-benchmark -r; default 1)
      --key-prefix P      prefix of __key__ (default "key:")
      --key-pattern P     sequential | uniform (default) | zipf[:EXP] | gaussian[:MEAN:STDDEV]
  -d, --data-size N       value size in bytes (default 3)
      --data-size-range MIN-MAX        uniform sizes (memtier)
      --data-size-list S:W,S:W         weighted sizes (memtier)
      --seed N            seed for keys and sizes (default random; printed)

memcached
      --multiget N        keys per get/gets/gat/gats request (text get k1 k2 …, meta mg … q + mn,
                          binary GETKQ … + NOOP; default 1)
      --noreply           writes without replies (text noreply, meta q, binary quiet opcodes),
                          each fenced by mn/NOOP so that errors are still counted
      --ttl SECONDS       expiry of writes, touch and gat (default 0: never)
      --flags N           client flags stored with each value (default 0)

Output
  -q, --quiet             one line per test, as redis-benchmark -q
      --csv               CSV on stdout
      --json FILE         full results as JSON ("-" for stdout); secrets redacted
      --hdr-log FILE      HdrHistogram interval log (one interval per second per command)
      --no-progress       no live progress line (it is only drawn on a terminal anyway)

Exit codes: 0 ok, 2 invalid flags, 3 connection/auth failure, 130 interrupted (partial results printed).
`;

const FLAGS = {
  host: { type: "string", short: "h" },
  port: { type: "string", short: "p" },
  socket: { type: "string", short: "s" },
  uri: { type: "string", short: "u", multiple: true },
  server: { type: "string", multiple: true },
  password: { type: "string", short: "a" },
  user: { type: "string" },
  dbnum: { type: "string" },
  db: { type: "string" },
  resp3: { type: "boolean", short: "3" },
  protocol: { type: "string" },
  multiget: { type: "string" },
  noreply: { type: "boolean" },
  ttl: { type: "string" },
  flags: { type: "string" },
  tls: { type: "boolean" },
  cacert: { type: "string" },
  cert: { type: "string" },
  key: { type: "string" },
  sni: { type: "string" },
  "tls-skip-hostname-check": { type: "boolean" },
  "client-name": { type: "string" },
  "connect-timeout": { type: "string" },
  timeout: { type: "string" },
  clients: { type: "string", short: "c" },
  requests: { type: "string", short: "n" },
  duration: { type: "string" },
  "test-time": { type: "string" },
  warmup: { type: "string" },
  pipeline: { type: "string", short: "P" },
  threads: { type: "string" },
  io: { type: "string" },
  rate: { type: "string" },
  arrival: { type: "string" },
  "late-threshold": { type: "string" },
  tests: { type: "string", short: "t" },
  command: { type: "string", multiple: true },
  mix: { type: "string" },
  ratio: { type: "string" },
  keyspace: { type: "string", short: "r" },
  "key-prefix": { type: "string" },
  "key-pattern": { type: "string" },
  "data-size": { type: "string", short: "d" },
  "data-size-range": { type: "string" },
  "data-size-list": { type: "string" },
  seed: { type: "string" },
  quiet: { type: "boolean", short: "q" },
  csv: { type: "boolean" },
  json: { type: "string" },
  "hdr-log": { type: "string" },
  "no-progress": { type: "boolean" },
  help: { type: "boolean" },
} as const;

/** Turns argv into bench options (no I/O except reading TLS files). */
export async function benchOptionsFromArgs(
  argv: string[],
): Promise<{ options: BenchOptions; out: OutputFlags } | "help"> {
  const { values: v, positionals } = parseFlags(argv, FLAGS);
  if (v.help) return "help";
  const s = (k: string) => v[k] as string | undefined;
  const protocol = protocolFlag(s("protocol"));
  const defaultPort = protocol?.startsWith("memcache") ? "11211" : "6379";
  const targets: string[] = [];
  for (const u of (v.uri as string[] | undefined) ?? []) targets.push(u);
  for (const x of (v.server as string[] | undefined) ?? []) targets.push(x);
  if (s("socket")) targets.push(s("socket")!);
  if (targets.length === 0 || s("host") !== undefined || s("port") !== undefined) {
    if (s("port") !== undefined) intFlag("--port", s("port"), 1);
    if (targets.length === 0 || s("host") || s("port")) {
      const host = s("host") ?? "127.0.0.1";
      targets.unshift(`${host.includes(":") ? `[${host}]` : host}:${s("port") ?? defaultPort}`);
    }
  }
  const o: BenchOptions = { target: targets.length === 1 ? targets[0]! : targets };
  const password = s("password") ?? Deno.env.get("REDISCLI_AUTH");
  if (password !== undefined) o.password = password;
  if (s("user") !== undefined) o.user = s("user")!;
  const db = intFlag("--dbnum", s("dbnum") ?? s("db"), 0);
  if (db !== undefined) o.db = db;
  if (v.resp3) o.resp3 = true;
  if (protocol !== undefined) o.protocol = protocol;
  const multiget = intFlag("--multiget", s("multiget"), 1);
  if (multiget !== undefined) o.multiget = multiget;
  if (v.noreply) o.noreply = true;
  const ttl = intFlag("--ttl", s("ttl"), 0);
  if (ttl !== undefined) o.ttl = ttl;
  const flags = intFlag("--flags", s("flags"), 0);
  if (flags !== undefined) o.flags = flags;
  if (v.tls || s("cacert") || s("cert") || s("sni") || v["tls-skip-hostname-check"]) {
    const tls: NonNullable<BenchOptions["tls"]> = {};
    const read = async (flag: string, path: string | undefined) => {
      if (path === undefined) return undefined;
      try {
        return await Deno.readTextFile(path);
      } catch (e) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot read ${flag} file ${path}: ${e instanceof Error ? e.message : e}`,
        );
      }
    };
    const ca = await read("--cacert", s("cacert"));
    const cert = await read("--cert", s("cert"));
    const key = await read("--key", s("key"));
    if (ca !== undefined) tls.ca = ca;
    if (cert !== undefined) tls.cert = cert;
    if (key !== undefined) tls.key = key;
    if (s("sni") !== undefined) tls.serverName = s("sni")!;
    if (v["tls-skip-hostname-check"]) tls.skipHostnameCheck = true;
    o.tls = tls;
  }
  if (s("client-name") !== undefined) o.clientName = s("client-name")!;
  if (s("connect-timeout") !== undefined) {
    o.connectTimeoutMs = durationFlag("--connect-timeout", s("connect-timeout")!);
  }
  if (s("timeout") !== undefined) o.requestTimeoutMs = durationFlag("--timeout", s("timeout")!);
  const setInt = (flag: string, key: string, min: number, apply: (n: number) => void) => {
    const n = intFlag(flag, s(key), min);
    if (n !== undefined) apply(n);
  };
  setInt("--clients", "clients", 1, (n) => o.clients = n);
  setInt("--requests", "requests", 1, (n) => o.requests = n);
  setInt("--pipeline", "pipeline", 1, (n) => o.pipeline = n);
  setInt("--threads", "threads", 1, (n) => o.threads = n);
  setInt("--keyspace", "keyspace", 1, (n) => o.keyspace = n);
  setInt("--seed", "seed", 0, (n) => o.seed = n);
  const dur = s("duration") ?? s("test-time");
  if (dur !== undefined) o.durationMs = durationFlag("--duration", dur);
  if (s("warmup") !== undefined) o.warmupMs = durationFlag("--warmup", s("warmup")!);
  if (s("rate") !== undefined) o.rate = s("rate")!;
  if (s("arrival") !== undefined) {
    const a = s("arrival");
    if (a !== "constant" && a !== "poisson") {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use flag '--arrival': expected constant or poisson: current value is ${
          JSON.stringify(a)
        }`,
      );
    }
    o.arrival = a;
  }
  if (s("io") !== undefined) {
    const io = s("io");
    if (io !== "auto" && io !== "uring" && io !== "deno") {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use flag '--io': expected auto, uring or deno: current value is ${
          JSON.stringify(io)
        }`,
      );
    }
    o.io = io;
  }
  if (s("late-threshold") !== undefined) {
    o.lateThresholdUs = durationFlag("--late-threshold", s("late-threshold")!) * 1000;
  }
  const tests: string[] = [];
  if (s("tests") !== undefined) {
    tests.push(...s("tests")!.split(",").map((t) => t.trim()).filter(Boolean));
  }
  tests.push(...((v.command as string[] | undefined) ?? []));
  if (positionals.length > 0) {
    tests.push(positionals.map((p) => /\s/.test(p) ? JSON.stringify(p) : p).join(" "));
  }
  if (tests.length > 0) o.tests = tests;
  if (s("mix") !== undefined && s("ratio") !== undefined) {
    throw new MembenchError(
      "invalid_argument",
      "Cannot use flags '--mix' and '--ratio' together: choose one",
    );
  }
  if (s("mix") !== undefined) o.mix = s("mix")!;
  if (s("ratio") !== undefined) o.mix = parseRatio(s("ratio")!);
  if (s("key-prefix") !== undefined) o.keyPrefix = s("key-prefix")!;
  if (s("key-pattern") !== undefined) o.keyPattern = s("key-pattern")!;
  const sizes = [s("data-size"), s("data-size-range"), s("data-size-list")].filter((x) =>
    x !== undefined
  );
  if (sizes.length > 1) {
    throw new MembenchError(
      "invalid_argument",
      "Cannot use more than one of '--data-size', '--data-size-range' and '--data-size-list'",
    );
  }
  if (sizes[0] !== undefined) o.dataSize = sizes[0];
  return {
    options: o,
    out: {
      quiet: v.quiet === true,
      csv: v.csv === true,
      json: s("json"),
      hdrLog: s("hdr-log"),
      progress: v["no-progress"] !== true,
    },
  };
}

interface OutputFlags {
  quiet: boolean;
  csv: boolean;
  json: string | undefined;
  hdrLog: string | undefined;
  progress: boolean;
}

function protocolFlag(v: string | undefined): BenchProtocol | undefined {
  if (v === undefined) return undefined;
  const p = v.trim().toLowerCase().replace("_", "-").replace(/^redis$/, "resp");
  if ((BENCH_PROTOCOLS as readonly string[]).includes(p)) return p as BenchProtocol;
  throw new MembenchError(
    "invalid_argument",
    `Cannot use flag '--protocol': expected ${BENCH_PROTOCOLS.join(", ")}: current value is ${
      JSON.stringify(v)
    }`,
  );
}

function durationFlag(flag: string, v: string): number {
  try {
    return parseDurationMs(v);
  } catch (e) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use flag '${flag}': ${e instanceof Error ? e.message : e}`,
    );
  }
}

/** `membench bench`: returns the exit code. */
export async function benchCommand(argv: string[]): Promise<number> {
  const parsed = await benchOptionsFromArgs(argv);
  if (parsed === "help") {
    console.log(BENCH_HELP);
    return EXIT.ok;
  }
  const { options, out } = parsed;
  const ac = new AbortController();
  let sigints = 0;
  const onSigint = () => {
    if (++sigints > 1) Deno.exit(EXIT.interrupted);
    ac.abort();
  };
  Deno.addSignalListener("SIGINT", onSigint);
  const live = out.progress && Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  options.signal = ac.signal;
  if (live) {
    options.onProgress = (p: BenchProgress) => {
      const line =
        `${p.test} [${p.testIndex + 1}/${p.testCount}] ${(p.elapsedMs / 1000).toFixed(0)}s ` +
        `${p.warmup ? "warm-up " : ""}${p.requests.toLocaleString("en-US")} requests, ${
          formatRate(p.opsPerSec)
        } ops/s` +
        (p.errors > 0 ? `, ${p.errors} errors` : "");
      Deno.stderr.writeSync(enc.encode(`\r\x1b[K${line}`));
    };
  }
  try {
    const result = await bench(options);
    if (live) Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
    if (out.json === "-") console.log(formatBenchJson(result).trimEnd());
    else if (out.csv) console.log(formatBenchCsv(result).trimEnd());
    else if (out.quiet) console.log(formatBenchQuiet(result).trimEnd());
    else console.log(formatBenchText(result).trimEnd());
    if (out.json !== undefined && out.json !== "-") {
      await Deno.writeTextFile(out.json, formatBenchJson(result));
    }
    if (out.hdrLog !== undefined) await Deno.writeTextFile(out.hdrLog, formatBenchHdrLog(result));
    if (result.interrupted) return EXIT.interrupted;
    if (result.failure) {
      console.error(`membench: ${result.failure.message}`);
      return EXIT.connection;
    }
    return EXIT.ok;
  } finally {
    Deno.removeSignalListener("SIGINT", onSigint);
  }
}
