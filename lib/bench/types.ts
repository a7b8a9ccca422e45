// This module uses no Deno APIs.
import type { LatencySummary, SecondSample } from "../metrics/mod.ts";
import type { KeyPattern, MixEntry, ValueSize } from "../workload/mod.ts";
import type { ReconnectPolicy } from "./shard.ts";
import type { Target, TlsOptions } from "../net/mod.ts";
import type { ServerMetricsOptions, ServerReport } from "../monitor/mod.ts";
import type { McWorkload } from "./dialect.ts";
import type { ProtocolName } from "../protocol/mod.ts";
import type { ReadFrom } from "./_cluster.ts";
import type { ShardSpec } from "../workload/mod.ts";

/** Progress of a running bench, about once a second. */
export interface BenchProgress {
  /** Test (or `mix`) being run. */
  test: string;
  /** Index of the test and number of tests. */
  testIndex: number;
  /** Number of tests. */
  testCount: number;
  /** Time since the test started, ms. */
  elapsedMs: number;
  /** Measured requests completed so far in this test. */
  requests: number;
  /** Errors so far in this test. */
  errors: number;
  /** Requests per second over the last interval. */
  opsPerSec: number;
  /** Whether the test is still warming up. */
  warmup: boolean;
  /** What the test is doing: opening its connections, or sending (warm-up included). */
  phase: "connect" | "load";
  /** Connections opened so far, and how many the test opens (the connect phase's progress). */
  connected: number;
  connections: number;
  /**
   * Time left in the test, ms: from the duration (warm-up included), or from the requests left
   * at the current rate; undefined while it cannot be known (connecting, no rate yet).
   */
  remainingMs?: number;
  /**
   * Latency so far in the measured part of the test, µs: response time in open loop, else
   * service time (with several threads, p50 is weighted over them and p99 is their largest).
   */
  p50Us: number;
  p99Us: number;
}

/** Options for {@linkcode bench}. Every field has a default. */
export interface BenchOptions {
  /**
   * Server(s): `host:port`, `redis://user:pass@host:port/db`, `rediss://…`, a unix socket path, or
   * a {@linkcode Target}. Clients are spread over several targets round-robin.
   * @default {"127.0.0.1:6379"}
   */
  target?: string | Target | Array<string | Target>;
  /** Password (AUTH); overrides one in the URI. */
  password?: string;
  /** ACL user; overrides one in the URI. */
  user?: string;
  /** Database to SELECT. */
  db?: number;
  /** TLS settings (implied by `rediss://`). */
  tls?: TlsOptions;
  /** Speak RESP3 (`HELLO 3`). @default {false} */
  resp3?: boolean;
  /**
   * Wire protocol: Valkey/Redis RESP, or memcached's text, meta or binary protocol. With a
   * memcached protocol the default target port is 11211 and the tests are memcached's
   * (`set`, `get`, `gets`, `gat`, `gats`, `add`, `replace`, `append`, `prepend`, `delete`,
   * `incr`, `decr`, `touch`, `version`); `user`/`password` authenticate (binary: SASL PLAIN).
   * @default {"resp"}
   */
  protocol?: ProtocolName;
  /** memcached: keys per read request (multi-get). @default {1} */
  multiget?: number;
  /** memcached: writes without replies (text noreply, meta q, binary quiet), fenced by mn/NOOP. @default {false} */
  noreply?: boolean;
  /** memcached: expiry of writes, touch and gat, in seconds (0 = never). @default {0} */
  ttl?: number;
  /** memcached: client flags stored with each value. @default {0} */
  flags?: number;
  /** Connections. @default {50} */
  clients?: number;
  /** Measured requests per test (ignored when `durationMs` is set). @default {100000} */
  requests?: number;
  /** Measured time per test instead of a request count. */
  durationMs?: number;
  /** Warm-up per test, excluded from results. @default {0} */
  warmupMs?: number;
  /** Requests in flight per connection. @default {1} */
  pipeline?: number;
  /** Worker isolates (Web Workers), each owning its share of the connections. @default {1} */
  threads?: number;
  /**
   * How the hot loop does I/O. `uring`: Linux io_uring through libc FFI, every send and receive
   * of a loop turn in one system call (plain TCP to an IP address; needs --allow-ffi). `deno`:
   * Deno's sockets (also TLS, unix sockets, host names). `auto` takes `uring` where it can.
   * @default {"auto"}
   */
  io?: "auto" | "uring" | "deno";
  /**
   * Tests run one after another: redis-benchmark names (`set`, `get`, `lrange_100`, …) or
   * command templates (`"HSET h:__key__ f __data__"`). @default {["ping","set","get"]} unless `mix`.
   */
  tests?: string[];
  /** One run with a weighted mix instead of separate tests: `"get:0.8,set:0.2"` or entries. */
  mix?: string | MixEntry[];
  /** Distinct keys (redis-benchmark `-r`). @default {1} */
  keyspace?: number;
  /** Prefix of `__key__`. @default {"key:"} */
  keyPrefix?: string;
  /** Key distribution. @default {{kind:"uniform"}} */
  keyPattern?: KeyPattern | string;
  /** Value sizes in bytes: a number, `"32-1024"`, `"32:0.7,1024:0.3"`. @default {3} */
  dataSize?: number | string | ValueSize;
  /** Seed; the same seed gives the same key and size sequence. @default random, reported */
  seed?: number;
  /** Open loop: total target rate in requests/s (`50000`, `"50k/s"`). Closed loop when absent. */
  rate?: number | string;
  /** Open-loop arrival process. @default {"constant"} */
  arrival?: "constant" | "poisson";
  /** A send later than this after its intended time is counted as late. @default {1000} */
  lateThresholdUs?: number;
  /** @default {5000} */
  connectTimeoutMs?: number;
  /** A request without a reply after this fails its connection. @default {10000} */
  requestTimeoutMs?: number;
  /** Reconnects after a lost connection. @default {{maxAttempts: 5, baseDelayMs: 50, maxDelayMs: 1000}} */
  reconnect?: Partial<ReconnectPolicy>;
  /** CLIENT SETNAME. @default {"membench"} */
  clientName?: string;
  /**
   * Server-side metrics per test: every target's INFO (or memcached stats) before, during and
   * after it, as `TestResult.server`. @default {false}
   */
  serverMetrics?: boolean | ServerMetricsOptions;
  /**
   * Cluster mode: `target` lists seeds; the topology is discovered (`CLUSTER SHARDS`, else
   * `CLUSTER SLOTS`, else `CLUSTER NODES`) before each test, each client connects to every node,
   * and each request goes to its key's slot owner; MOVED/ASK/TRYAGAIN/CLUSTERDOWN are followed and
   * counted per node. Unset, it is on for an ElastiCache configuration endpoint or a MemoryDB
   * cluster endpoint (recognised by host name; a warning says so). @default {false}
   */
  cluster?: boolean;
  /**
   * Cluster mode: where reads (by the command catalogue) go: `primary`, `prefer-replica`,
   * `replica` (round-robin over the slot owner's replicas) or `any` (primary and replicas in
   * turn). Writes always go to primaries. Without `cluster`, the target is a standalone primary
   * (or a replica, which leads to its primary) and its replicas are found with `ROLE` / `INFO
   * replication`: reads go to them, everything else to the primary. @default {"primary"}
   */
  rfr?: ReadFrom;
  /**
   * Cluster mode: node balancing, as valkey-search-benchmark's: each client keeps every node's
   * share of its requests within `balanceTolerance` of the fair share (primaries for writes; the
   * nodes reads go to); a request whose node is over quota draws another key. @default {false}
   */
  balanceNodes?: boolean;
  /**
   * Cluster mode: node affinity, as redis-benchmark --cluster: each client talks to one primary
   * (dealt round-robin) and draws keys until one falls in that primary's slots; requests still
   * go by slot. Larger pipelined batches per connection; the key sequence of each client is then
   * the keys of its primary's slots. With a request count (closed loop), the clients share it,
   * as redis-benchmark's do: clients of a faster node take more of the requests (per node counts
   * then differ from run to run; the total does not). @default {false}
   */
  clusterAffinity?: boolean;
  /**
   * Cluster mode: redis-benchmark --cluster's key shape. Each client talks to one primary (as
   * with `clusterAffinity`, which this implies) and its keys carry a hash tag of that primary's
   * (`key:{tag}:000000001234`), so that all of a client's keys are in one slot. The servers then
   * hash a few bytes per key and touch one slot per client, as under redis-benchmark; the default
   * (keys over every slot of a node) is what an application's keys do. Multi-key commands (MSET,
   * MGET) need no hash tag of their own then. @default {false}
   */
  clusterTags?: boolean;
  /** With `balanceNodes`: allowed excess over the fair share, a fraction (0.1 = 10 %). @default {0.1} */
  balanceTolerance?: number;
  /**
   * Run shard `I/N` (or `{index, count}`): this process runs its part of the run, so that N
   * shards together do exactly what one run would ({@linkcode mergeBenchResults} puts them back
   * together). Clients are split into contiguous ranges of global client indices (each client's
   * keys and sizes come from the seed and its global index), requests and the rate in proportion.
   * `clients`, `requests` and `rate` stay the whole run's. Only shard 0 takes server metrics.
   */
  shard?: ShardSpec | string;
  /**
   * Wall-clock start (a `Date`, epoch ms or an ISO 8601 time): the clients connect, then the first
   * test begins at that time, so that shards on several machines start together.
   */
  startAt?: Date | number | string;
  /**
   * Measure this machine's clock against the (first) server's `TIME` before the run (RESP only),
   * as `BenchResult.clock`. @default {true when `shard` or `startAt` is set}
   */
  measureClock?: boolean;
  /** Aborting stops the run; the result so far is returned with `interrupted: true`. */
  signal?: AbortSignal;
  /** Called about once a second (a few times a second while connecting). */
  onProgress?: (p: BenchProgress) => void;
  /**
   * Called as each test ends (interrupted or failed ones too), with the result so far: a caller
   * can print each test's table at once instead of all of them at the end.
   */
  onTestEnd?: (test: TestResult, result: BenchResult) => void;
  /** Called once the options are checked, before the first test: the result's `config` is set. */
  onStart?: (result: BenchResult) => void;
}

/** Results of one command in one test. */
export interface CommandResult {
  /** Name: test name or template text. */
  name: string;
  /** Server command, lower case (as INFO commandstats names it). */
  command: string;
  /** Completed requests (replies, error replies and failed requests). */
  count: number;
  /** Completed requests per measured second. */
  opsPerSec: number;
  /** For reads: key found. */
  hits?: number;
  /** For reads: key not found. */
  misses?: number;
  /** hits / (hits + misses). */
  hitRatio?: number;
  /** Errors by code: server error prefixes (`ERR`, `WRONGTYPE`) and `connection`, `timeout`, `protocol`. */
  errors: Record<string, number>;
  /** Sum of `errors`. */
  errorCount: number;
  /**
   * The text of the first error of each kind in `errors` (`ERR` -> `"ERR unknown command 'FOO'…"`,
   * `protocol` -> the parser's message and the bytes received), decoded once per kind.
   */
  firstErrors?: Record<string, string>;
  /** Open loop: sends later than the threshold after their intended time. */
  late: number;
  /**
   * Of `late`: sends that also waited longer than the threshold while their connection had a
   * free slot, so membench itself fell behind. The others waited because every slot of their
   * connection was taken by requests the server had not answered yet.
   */
  lateClient: number;
  /** Service time: actual send → reply, µs. */
  serviceTime: LatencySummary;
  /** Response time: intended send → reply (open loop only), µs; free of coordinated omission. */
  responseTime?: LatencySummary;
}

/** One second of a test, all commands. */
export interface SecondResult {
  /** Seconds since measuring started. */
  second: number;
  /** Requests completed in that second. */
  ops: number;
  /** Errors in that second. */
  errors: number;
  /** Median of the latency figure the test reports (response time in open loop, else service). */
  p50Us: number;
  /** 99th percentile, same figure. */
  p99Us: number;
  /** Largest, same figure. */
  maxUs: number;
}

/** Results of one test (or the mix). */
export interface TestResult {
  /** Test name, or `mix`. */
  name: string;
  /** `closed`: each client sends when a reply frees its pipeline; `open`: on a schedule. */
  loop: "closed" | "open";
  /** Measured time, ms. */
  durationMs: number;
  /** Measured requests completed. */
  requests: number;
  /** Measured requests per second. */
  opsPerSec: number;
  /** Errors (all commands). */
  errors: number;
  /** Requests completed during warm-up (sent, not measured). */
  warmupRequests: number;
  /** Requests written, warm-up included: what the server saw. */
  sent: number;
  /** Requests in flight when interrupted. */
  abandoned: number;
  /** Successful reconnects. */
  reconnects: number;
  /** Open loop: late sends. */
  late: number;
  /** Open loop: late sends that waited while their connection had a free slot (membench behind). */
  lateClient: number;
  /** Open loop: the target rate, requests/s. */
  targetRatePerSec?: number;
  /** Per command. */
  commands: CommandResult[];
  /** Per second, all commands. */
  series: SecondResult[];
  /** The servers' own figures over the test (with `serverMetrics`). */
  server?: ServerReport;
  /** Encoded histograms for logs and merging: per command, total and per second. */
  histograms: Array<{
    name: string;
    service: string;
    response?: string;
    series: SecondSample[];
  }>;
  /** Set when every connection failed for good. */
  failure?: { code: string; message: string };
  /**
   * Set when no request of the test succeeded (every one failed, or none completed): what the
   * first error said, and a hint when its cause is known (another protocol, an unknown command).
   */
  allFailed?: { message: string; hint?: string };
  /** Cluster mode: per node, what membench counted (every node discovery found). */
  nodes?: NodeResult[];
  /** Cluster mode: totals over the nodes. */
  cluster?: ClusterSummary;
  /**
   * Wall-clock time (epoch ms) when measuring began; the per-second series count from it. Merged
   * shard results align their series on it.
   */
  measureStartMs?: number;
  /** Cluster mode: encoded service-time histogram per node (same order as `nodes`), for merging. */
  nodeHistograms?: string[];
}

/** One cluster node's part of a test, as membench counted it. */
export interface NodeResult {
  /** `host:port`. */
  address: string;
  /** Role when the test started. */
  role: "primary" | "replica";
  /** Requests completed on this node (replies, error replies, failures). */
  requests: number;
  /** Requests per measured second (for a node that joined during the run, from its joining). */
  opsPerSec: number;
  /** A node that joined during the measured time (scale-out): ms after measuring began. */
  joinedAfterMs?: number;
  /** requests / all nodes' requests (0..1). */
  share: number;
  /** Errors (error replies other than redirections, failed requests). */
  errors: number;
  /** Redirections and retries this node answered with. */
  redirects: { moved: number; ask: number; tryagain: number; clusterdown: number };
  /**
   * Service time of the requests this node answered, µs: from the request's first send (a
   * redirected request's included) to this node's reply.
   */
  serviceTime: LatencySummary;
}

/** Cluster-wide figures of a test. */
export interface ClusterSummary {
  /** Nodes discovered, and of them primaries. */
  nodes: number;
  /** Primaries when the test started. */
  primaries: number;
  /** Where reads went. */
  rfr: ReadFrom;
  /** The largest node share (0..1). */
  maxShare: number;
  /**
   * Skew: the largest share over the fair share of the nodes that serve requests (primaries, and
   * replicas when reads go to them); 1 is perfectly even, `primaries` is everything on one node.
   */
  skew: number;
  /** Redirections and retries, all nodes. */
  redirects: { moved: number; ask: number; tryagain: number; clusterdown: number };
}

/** The resolved settings of a run, secrets redacted. */
export interface BenchConfig {
  /** Targets as `host:port` or socket path (no credentials). */
  targets: string[];
  /** TLS on. */
  tls: boolean;
  /** ACL user. */
  user?: string;
  /** `"***"` when a password was given. */
  password?: string;
  /** Database. */
  db?: number;
  /** RESP3. */
  resp3: boolean;
  /** Wire protocol. */
  protocol: ProtocolName;
  /** memcached settings (memcached protocols only). */
  memcache?: McWorkload;
  /** Clients. */
  clients: number;
  /** Requests per test (count mode). */
  requests?: number;
  /** Duration per test (time mode). */
  durationMs?: number;
  /** Warm-up. */
  warmupMs: number;
  /** Pipeline. */
  pipeline: number;
  /** Threads. */
  threads: number;
  /** The I/O the hot loop used (`auto` resolved). */
  io: "uring" | "deno";
  /** Tests run, or the mix. */
  tests: string[];
  /** Mix entries when a mix ran. */
  mix?: MixEntry[];
  /** Keyspace. */
  keyspace: number;
  /** Key prefix. */
  keyPrefix: string;
  /** Key pattern. */
  keyPattern: KeyPattern;
  /** Value sizes. */
  dataSize: ValueSize;
  /** Seed. */
  seed: number;
  /** Open loop rate. */
  ratePerSec?: number;
  /** Arrival process. */
  arrival: "constant" | "poisson";
  /** Latency unit. */
  latencyUnit: "us";
  /** Cluster mode (seeds in `targets`). */
  cluster?: boolean;
  /** Cluster mode: where reads went. */
  rfr?: ReadFrom;
  /** `rfr` without `cluster`: a standalone primary and its replicas (found by ROLE). */
  replication?: boolean;
  /** Cluster mode: node balancing's tolerance, when on. */
  balanceTolerance?: number;
  /** Cluster mode: node affinity was on. */
  clusterAffinity?: boolean;
  /** Cluster mode: each client's keys carried its primary's hash tag. */
  clusterTags?: boolean;
  /**
   * A run shard: which one, and its part of the run (the fields above stay the whole run's).
   */
  shard?: ShardConfigSummary;
  /** The wall-clock start asked for (ISO 8601). */
  startAt?: string;
}

/** A shard's part of a run. */
export interface ShardConfigSummary extends ShardSpec {
  /** Global index of this shard's first client. */
  clientBase: number;
  /** Clients in this shard. */
  clients: number;
  /** Requests per test in this shard (count mode). */
  requests?: number;
  /** This shard's part of the open-loop rate. */
  ratePerSec?: number;
}

/** This machine's clock against a server's `TIME`. */
export interface ClockCheck {
  /** The server asked. */
  server: string;
  /** Server time minus local time at the midpoint of the round trip, ms. */
  offsetMs: number;
  /** The round trip, ms (the offset's uncertainty is half of it). */
  rttMs: number;
}

/** What a merge of run shards found. */
export interface MergeSummary {
  /** Shards expected. */
  count: number;
  /** Shard indices merged, in order. */
  merged: number[];
  /** Shard indices not given (only with `allowIncomplete`). */
  missing: number[];
  /** Shards that failed or were interrupted, with why (only with `allowIncomplete`). */
  failed: Array<{ index: number; reason: string }>;
  /**
   * Spread of the shards' clocks against the server's `TIME`: the largest offset minus the
   * smallest, ms (undefined when fewer than two shards measured it).
   */
  clockSkewMs?: number;
  /** Spread of the shards' measuring starts, ms (first test). */
  startSpreadMs: number;
}

/** The result of {@linkcode bench}. */
export interface BenchResult {
  /** membench version. */
  version: string;
  /** When it started (ISO 8601). */
  startedAt: string;
  /** Settings, redacted. */
  config: BenchConfig;
  /** Setup commands membench sent that are not part of any test (e.g. filling the list for LRANGE). */
  setup: Array<{ command: string; calls: number; why: string }>;
  /** Tests in order. */
  tests: TestResult[];
  /** Stopped by the signal. */
  interrupted: boolean;
  /** Set when a test ended because every connection failed. */
  failure?: { code: string; message: string };
  /**
   * What makes the settings misleading (a key pattern or a rate over a keyspace of 1, more
   * clients than requests), one sentence each; the CLI prints them on stderr.
   */
  warnings?: string[];
  /** This machine's clock against the server's (with `measureClock`). */
  clock?: ClockCheck;
  /** A merged result: the shards it came from. */
  shards?: MergeSummary;
}
