// This module uses no Deno APIs.
/**
 * The types of a replay and its fidelity report, apart from the code, so that the replay and the
 * fidelity comparison both read them without importing each other.
 *
 * @module
 */
import type { LatencySummary } from "../metrics/mod.ts";
import type { LogHistogramData } from "../analyze/mod.ts";
import type { ServerMetricsOptions, ServerReport } from "../monitor/mod.ts";
import type { ReconnectPolicy, Target } from "../net/mod.ts";
import type { ProtocolName } from "../protocol/mod.ts";
import type { ShardSpec } from "../workload/mod.ts";

/** Limits a replay must keep to; each one set becomes a check. */
export interface FidelityThresholds {
  /** Largest difference of a read command's hit ratio from the recording (0.02 = 2 points). */
  maxHitRatioDiff?: number;
  /** Largest difference of a command's share of the mix (0.01 = 1 point). */
  maxMixDiff?: number;
  /** Largest Kolmogorov-Smirnov distance between recorded and replayed value sizes. */
  maxSizeKs?: number;
  /** Largest p99 lateness of sends against the schedule, µs (paced replays). */
  maxLatenessP99Us?: number;
  /** Largest mean relative error of events per second against the recorded rate. */
  maxRateError?: number;
  /** Most errors allowed. */
  maxErrors?: number;
  /**
   * Largest rise of a command's error ratio (errors over requests) from the recording's
   * (0.01 = 1 point): a replay whose requests the server rejects more often than the original's
   * is not faithful. @default {0.01}
   */
  maxErrorRatioRise?: number;
  /**
   * Largest difference of a command's share of quiet/noreply requests from the recording's, in
   * replays to the recorded protocol. @default {0}
   */
  maxQuietDiff?: number;
  /**
   * Largest difference between the target's own per-command counters and the profile's
   * requests, over the requests (`verifyServer`; 0 = exactly the recorded requests).
   */
  maxServerDiff?: number;
}

/** The target's own counters over a replay, compared per command with the profile's requests. */
export interface ServerVerification {
  /**
   * Per command (RESP: `INFO commandstats` names; memcached: get, set, delete, incr, decr, touch
   * from `stats`): the requests the profile holds for it (times the loops) and the server's delta.
   */
  commands: Array<{ command: string; expected: number; server: number }>;
  /** Sum of the per-command differences over the expected total (0 = the same). */
  diff: number;
  /** Why the comparison may be off (cluster nodes that joined during the replay). */
  caveat?: string;
}

/** How faithful a replay was. */
export interface FidelityReport {
  /** Share of each command, recorded and replayed. */
  mix: Array<{ op: string; recorded: number; replayed: number; diff: number }>;
  /** Hit ratio of each read command, recorded and replayed. */
  hitRatio: Array<{ op: string; recorded: number; replayed: number; diff: number }>;
  /** Kolmogorov-Smirnov distance between recorded and replayed value sizes (0 = same). */
  sizeKs: number;
  /** Mean relative error of events per second against the recorded rate (scaled by speed). */
  rateError: number;
  /** Lateness of sends, µs. */
  lateness: { p50Us: number; p99Us: number };
  /** Errors. */
  errors: number;
  /**
   * Share of each command's requests sent quiet or noreply, recorded and replayed (replays to
   * the recorded protocol keep it; `quiet_diff` checks it there).
   */
  quietRatio: Array<{ op: string; recorded: number; replayed: number; diff: number }>;
  /** Error ratio of each command (errors over requests), recorded and replayed. */
  errorRatio: Array<{ op: string; recorded: number; replayed: number; rise: number }>;
  /** Events that could not be rebuilt in the target protocol. */
  skipped: number;
  /** With `verifyServer`: the server's counters against the profile's requests (see there). */
  serverDiff?: number;
  /** The thresholds given, each with its value and verdict. */
  checks: Array<{ name: string; value: number; limit: number; pass: boolean }>;
  /** Every check passed. */
  pass: boolean;
}

/** Progress of a running replay ({@linkcode ReplayOptions.onProgress}). */
export interface ReplayProgress {
  /** Opening the connections, storing the warm-up keys, or replaying. */
  phase: "connect" | "warmup" | "replay";
  /** Connections opened so far, and how many the replay opens. */
  connected: number;
  connections: number;
  /** Loops completed. */
  loop: number;
  /** Time in this phase, ms (for the replay: since its schedule started). */
  elapsedMs: number;
  /**
   * Time left, ms: paced, the recorded span of the loops left at the speed; at max speed, the
   * requests left at the current rate; undefined when it cannot be known (`loop: "forever"`).
   */
  remainingMs?: number;
  /** Requests sent, replies (errors included) and errors so far. */
  sent: number;
  completed: number;
  errors: number;
  /** Replies per second over the last interval. */
  opsPerSec: number;
  /** Latency so far, µs: response time (from the intended send) when paced, else service time. */
  p50Us: number;
  p99Us: number;
  /** Sends later than the threshold so far (paced). */
  late: number;
}

/** Options for {@linkcode replay}. */
export interface ReplayOptions {
  /** The profile. */
  profile: string;
  /** Target server (`host:port`, a URI, or a Target); default 127.0.0.1 and the protocol's port. */
  target?: string | Target;
  /** Password (AUTH, SASL). */
  password?: string;
  /** ACL / SASL user. */
  user?: string;
  /**
   * CLIENT SETNAME for RESP connections: `CLIENT LIST` shows the replay, and a server that wants
   * a password refuses at connect (an `auth` error) instead of answering every command with
   * NOAUTH. An empty string sends none.
   * @default {"membench-replay"}
   */
  clientName?: string;
  /** Protocol to speak; default the recorded one (RESP2/3 → resp). */
  protocol?: ProtocolName;
  /** 1 = recorded pace, 2 = twice as fast, "max" = as fast as replies allow. @default {1} */
  speed?: number | "max";
  /** Times through the profile, or "forever" (until the signal). @default {1} */
  loop?: number | "forever";
  /** Replay connections: fewer than recorded folds them, more multiplies them. @default recorded */
  connections?: number;
  /** When multiplying connections, give each copy its own keys. @default {false} */
  separateKeyspaces?: boolean;
  /**
   * Run shard `I/N` (or `{index, count}`): replay only this shard's contiguous range of the
   * replay connections, so that N shards together replay every connection once.
   */
  shard?: ShardSpec | string;
  /**
   * Wall-clock start (a `Date`, epoch ms, an ISO 8601 time or `+DURATION`): the connections
   * open, then the replay begins at that time, so that shards on several machines start together.
   */
  startAt?: Date | number | string;
  /** Before replaying, store the keys whose first access was a hit, with their sizes. @default {false} */
  warmup?: boolean;
  /** A send later than this after its intended time counts as late. @default {1000} */
  lateThresholdUs?: number;
  /** Connect timeout. @default {5000} */
  connectTimeoutMs?: number;
  /** A request unanswered this long fails its connection, which reconnects. @default {10000} */
  requestTimeoutMs?: number;
  /** After a lost connection (server restart, timeout, garbage reply). @default 5 attempts, 50 ms doubling to 1 s */
  reconnect?: Partial<ReconnectPolicy>;
  /** Hot-loop I/O: io_uring on libc sockets, Deno's sockets, or auto (io_uring when it can). @default {"auto"} */
  io?: "auto" | "uring" | "deno";
  /** Server-side metrics of the target over the replay (`ReplayResult.server`). @default {false} */
  serverMetrics?: boolean | ServerMetricsOptions;
  /** Aborting stops the replay; the result so far is returned, `interrupted` set. */
  signal?: AbortSignal;
  /** Progress: a few times a second while connecting, then about once a second. */
  onProgress?: (p: ReplayProgress) => void;
  /** Limits for the fidelity report's checks. */
  thresholds?: FidelityThresholds;
  /**
   * Read the target's own counters (`INFO commandstats`, memcached `stats`) before and after the
   * replay (warm-up excluded) and compare their per-command deltas with the profile's requests
   * (`ReplayResult.verification`, fidelity's `server_diff`). Meant for a target nobody else
   * uses meanwhile. @default {false}
   */
  verifyServer?: boolean;
  /**
   * Replay into a Redis / Valkey cluster (RESP): the nodes are discovered from `target`, each
   * replay connection holds one connection per node, and each request goes to the owner of its
   * keys' slot. Keys keep their recorded slot when the profile kept slots (record's
   * `keepSlots`) and are at least 3 bytes long (their last 3 characters are chosen so that the
   * key hashes there); other keys land where their replayed names hash. Redirections are
   * counted per node, and the request is sent again to the node named (ASKING first for ASK;
   * MOVED also corrects the slot map), counted once. A node that joins during the replay (named
   * by a MOVED, or found by the topology read again after one) gets a connection per replay
   * connection. @default {false}
   */
  cluster?: boolean;
}

/** What a replay into a cluster did per node, and how its keys found their slots. */
export interface ReplayClusterReport {
  /** Per node (by discovery): requests routed to it, and redirections it answered. */
  nodes: Array<{
    address: string;
    role: "primary" | "replica";
    requests: number;
    moved: number;
    ask: number;
  }>;
  /** The profile kept slots. */
  slotsKept: boolean;
  /** Requests routed by their keys' recorded slot. */
  recordedSlot: number;
  /** Requests routed by the slot of their replayed key's name (no slot kept, or a short key). */
  ownSlot: number;
  /** Requests without a key (sent where the connection's last keyed request went). */
  keyless: number;
  /** Requests the cluster refused as CROSSSLOT (their keys fell in several slots). */
  crossSlot: number;
  /** The largest node's share of the requests over the fair share (1 = even). */
  skew: number;
  /** Redirected requests (MOVED, ASK) sent again to the node named, each counted once. */
  resent: number;
}

/** One op in a replay result. */
export interface ReplayCommand {
  /** Op name as recorded. */
  op: string;
  /** Events recorded (per loop). */
  recorded: number;
  /** Requests sent (all loops). */
  sent: number;
  /** Replies received (errors included). */
  completed: number;
  /** Requests the recording saw answered with an error (per loop). */
  recordedErrors?: number;
  /** Requests recorded quiet or noreply (per loop), and sent so (all loops). */
  recordedQuiet?: number;
  quiet?: number;
  /** Reads: hits and misses in the recording (first loop's worth) and in the replay. */
  recordedHits?: number;
  recordedMisses?: number;
  hits?: number;
  misses?: number;
  /** Error replies and failed requests by code. */
  errors: Record<string, number>;
  /** Actual send → reply, µs. */
  serviceTime: LatencySummary;
  /** Intended send → reply, µs (paced replays). */
  responseTime?: LatencySummary;
  /** Sends later than the threshold. */
  late: number;
}

/** What a replay shard keeps for an exact merge. */
export interface ReplayShardData {
  /** Per op: encoded HDR histograms of service and response time. */
  ops: Array<{ op: string; service: string; response?: string }>;
  /** Lateness of sends, µs. */
  lateness: LogHistogramData;
  /** Whether the replay spoke the recorded protocol (fidelity's quiet check depends on it). */
  sameProtocol: boolean;
  /** The fidelity thresholds given. */
  thresholds: FidelityThresholds;
}

/** The result of {@linkcode replay}. */
export interface ReplayResult {
  /** Settings (no secrets). */
  config: {
    profile: string;
    target: string;
    protocol: ProtocolName;
    speed: number | "max";
    loop: number | "forever";
    connections: number;
    recordedConnections: number;
    separateKeyspaces: boolean;
    /** A run shard: which, and its connections (`firstConnection` on, of `connections`). */
    shard?: ShardSpec & { firstConnection: number; connections: number };
    /** The wall-clock start asked for (ISO 8601). */
    startAt?: string;
    warmup: boolean;
    /** Replayed into a cluster. */
    cluster?: boolean;
    /** The I/O driver used. */
    io: "uring" | "deno";
  };
  /** Loops completed (a partial one counts when interrupted). */
  loops: number;
  /** Wall time of the replay, ms (warm-up excluded). */
  durationMs: number;
  /** Recorded span of one loop, µs. */
  recordedSpanUs: number;
  /** Requests sent and completed. */
  sent: number;
  completed: number;
  /** Events that could not be rebuilt in the target protocol, by op. */
  skipped: Record<string, number>;
  /** Errors (all ops). */
  errors: number;
  /** Sends later than the threshold (paced replays). */
  late: number;
  /** Successful reconnects (each lost connection's requests in flight count as errors). */
  reconnects: number;
  /** Per op. */
  commands: ReplayCommand[];
  /** Lateness of sends against the schedule, µs (paced replays): overall and per connection. */
  lateness: {
    p50Us: number;
    p99Us: number;
    maxUs: number;
    perConnection: Array<{ conn: number; p50Us: number; p99Us: number }>;
  };
  /** Events sent per second of the replay, and recorded per second of the profile (scaled by speed). */
  rate: { replayed: number[]; recorded: number[] };
  /** Value lengths sent (writes) and recorded, for the fidelity comparison. */
  sizes: { recorded: number[]; replayed: number[] };
  /** Warm-up, when asked. */
  warmup?: { keys: number; sent: number; durationMs: number };
  /** Stopped by the signal. */
  interrupted: boolean;
  /** Set when the target failed. */
  failure?: { code: string; message: string };
  /** The target's own figures over the replay (with `serverMetrics`). */
  server?: ServerReport;
  /** The target's counters against the profile's requests (with `verifyServer`). */
  verification?: ServerVerification;
  /** Replay into a cluster: per node figures and how keys were routed. */
  cluster?: ReplayClusterReport;
  /**
   * A run shard's result keeps what an exact merge needs ({@linkcode mergeReplayResults}): each
   * op's encoded service and response histograms, the lateness histogram, and how fidelity was
   * judged.
   */
  shardData?: ReplayShardData;
  /** How faithful the replay was, with the checks of `thresholds`. */
  fidelity: FidelityReport;
}
