/**
 * The flag groups several commands share, declared once: the target (host, port, socket, URI),
 * TLS and auth, the protocol, and output. Each command spreads the groups it takes into its own
 * flag set; the helpers below turn their values into library options.
 *
 * @module
 */
import type { TlsOptions } from "../lib/net/mod.ts";
import { PROTOCOL_NAMES } from "../lib/protocol/mod.ts";
import { bool, duration, int, num, oneOf, type Problems, text, type Values } from "./flags.ts";
import {
  compareServerSnapshots,
  readServerSnapshot,
  type ServerMetricsOptions,
  type ServerReport,
  serverSnapshotJson,
} from "../lib/monitor/mod.ts";
import { formatServerChanges, formatServerCsv, formatServerHtml } from "../lib/report/mod.ts";

/** Where the server is. */
export const TARGET_FLAGS = {
  host: text({
    short: "h",
    value: "HOST",
    section: "Target",
    help: "server host",
    defaultText: "127.0.0.1",
  }),
  port: int({
    short: "p",
    value: "PORT",
    min: 1,
    max: 65535,
    section: "Target",
    help: "server port",
    defaultText: "6379 for RESP, 11211 for memcached",
  }),
  socket: text({
    short: "s",
    value: "PATH",
    section: "Target",
    help: "unix socket instead of host and port",
  }),
  uri: text({
    short: "u",
    value: "URI",
    multiple: true,
    section: "Target",
    help:
      "redis://[user:pass@]host:port/db, rediss:// (TLS), or host:port; repeat for several servers",
  }),
  server: text({
    value: "HOST:PORT",
    multiple: true,
    section: "Target",
    help: "another server (repeatable); clients are spread round-robin",
  }),
};

/** How `--protocol` values are read: memtier's `memcache_text` and `redis` are accepted too. */
export function PROTOCOL_FLAG_NORMALIZE(s: string): string {
  return s.trim().toLowerCase().replaceAll("_", "-").replace(/^redis$/, "resp");
}

/** The wire protocol. */
export const PROTOCOL_FLAG = oneOf(PROTOCOL_NAMES, {
  value: "P",
  section: "Target",
  help: PROTOCOL_NAMES.join(", "),
  normalize: PROTOCOL_FLAG_NORMALIZE,
});

/** Credentials: never printed. */
export const AUTH_FLAGS = {
  password: text({
    short: "a",
    value: "PASS",
    env: "REDISCLI_AUTH",
    secret: true,
    section: "TLS and auth",
    help:
      "AUTH password; for memcached, SASL PLAIN (binary) or the -Y ASCII authentication (text, meta); never printed",
  }),
  user: text({
    value: "NAME",
    section: "TLS and auth",
    help: "ACL user (SASL user for memcached)",
  }),
};

/** TLS. */
export const TLS_FLAGS = {
  tls: bool({ section: "TLS and auth", help: "use TLS" }),
  cacert: text({
    value: "FILE",
    section: "TLS and auth",
    help: "CA certificate(s) to trust (PEM)",
  }),
  cert: text({ value: "FILE", section: "TLS and auth", help: "client certificate (PEM)" }),
  key: text({ value: "FILE", section: "TLS and auth", help: "client private key (PEM)" }),
  sni: text({ value: "NAME", section: "TLS and auth", help: "server name to send and check" }),
  tlsSkipHostnameCheck: bool({
    section: "TLS and auth",
    help: "accept a certificate whose name does not match (the chain is still checked)",
  }),
};

/** Output: a JSON file, and the live progress line. */
export const OUTPUT_FLAGS = {
  json: text({
    value: "FILE",
    section: "Output",
    help: 'the full result as JSON ("-" for stdout); secrets redacted',
    missingHint: 'give a file, or "-" for stdout (--json - prints the JSON instead of the text)',
  }),
  noProgress: bool({
    section: "Output",
    help: "no live progress line (it is only drawn on a terminal anyway)",
  }),
};

/**
 * Prints `json` for `--json -` (then the caller prints no text), or writes it to the file given;
 * returns whether stdout took it.
 */
export async function writeJson(
  ctx: { print(s: string): void; output(path: string, text: string): Promise<void> },
  target: string | undefined,
  json: () => string,
): Promise<boolean> {
  if (target === undefined) return false;
  if (target === "-") {
    ctx.print(json().trimEnd());
    return true;
  }
  const text = json();
  await ctx.output(target, text.endsWith("\n") ? text : text + "\n");
  return false;
}

/**
 * The servers the target flags name, in order: URIs, `--server`s, the socket, and host:port
 * (first) when host or port is given or nothing else is.
 */
export function targetsFrom(
  v: Partial<Values<typeof TARGET_FLAGS>>,
  defaultPort: number,
): string[] {
  const targets = [...(v.uri ?? []), ...(v.server ?? [])];
  if (v.socket !== undefined) targets.push(v.socket);
  if (targets.length === 0 || v.host !== undefined || v.port !== undefined) {
    const host = v.host ?? "127.0.0.1";
    targets.unshift(`${host.includes(":") ? `[${host}]` : host}:${v.port ?? defaultPort}`);
  }
  return targets;
}

/**
 * TLS options from the TLS flags (reading the PEM files), or undefined when no TLS flag is
 * given. A file that cannot be read is a problem.
 */
export async function tlsFrom(
  v: Values<typeof TLS_FLAGS>,
  problems: Problems,
): Promise<TlsOptions | undefined> {
  if (!v.tls && !v.cacert && !v.cert && !v.key && !v.sni && !v.tlsSkipHostnameCheck) {
    return undefined;
  }
  const read = async (flag: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    try {
      return await Deno.readTextFile(path);
    } catch (e) {
      problems.add(`Cannot read ${flag} file ${path}: ${e instanceof Error ? e.message : e}`);
      return undefined;
    }
  };
  const tls: TlsOptions = {};
  const ca = await read("--cacert", v.cacert);
  const cert = await read("--cert", v.cert);
  const key = await read("--key", v.key);
  if (ca !== undefined) tls.ca = ca;
  if (cert !== undefined) tls.cert = cert;
  if (key !== undefined) tls.key = key;
  if (v.sni !== undefined) tls.serverName = v.sni;
  if (v.tlsSkipHostnameCheck) tls.skipHostnameCheck = true;
  return tls;
}

/** Server-side metrics: the servers' own figures over a run (bench, replay). */
export const SERVER_METRICS_FLAGS = {
  serverMetrics: bool({
    section: "Server metrics",
    help: "snapshot every server's INFO (memcached: stats, stats slabs) before, during and after " +
      "the run, and report the figures per node: rates, CPU, memory growth, server time per call",
  }),
  metricsInterval: duration({
    value: "D",
    section: "Server metrics",
    help: "snapshots during the run every D (0: before and after only)",
    defaultText: "1s",
  }),
  trackMetric: text({
    value: "SECTION.FIELD[:KIND]",
    multiple: true,
    section: "Server metrics",
    help: "also report this field (kind counter, gauge or text; gauge when not said), e.g. " +
      "stats.total_reads_processed:counter",
  }),
  imbalanceThreshold: num({
    value: "PCT",
    above: 0,
    section: "Server metrics",
    help: "flag nodes whose rate or memory deviates from the nodes' mean by more than PCT percent",
    defaultText: "20",
  }),
  metricsSnapshot: text({
    value: "FILE",
    section: "Server metrics",
    help: "write the run's server figures to FILE (JSON), to compare a later run with",
  }),
  compareSnapshot: text({
    value: "FILE",
    section: "Server metrics",
    help: "compare this run's server figures with a snapshot written by --metrics-snapshot",
  }),
  serverCsv: text({
    value: "FILE",
    section: "Server metrics",
    help: 'the server figures as CSV, a row per node and field ("-" for stdout)',
  }),
  serverHtml: text({
    value: "FILE",
    section: "Server metrics",
    help: "the server figures as an HTML page: a table per node, rates over time as charts",
  }),
};

/** The `serverMetrics` option the server-metrics flags ask for (any of them turns it on). */
export function serverMetricsFrom(
  v: Partial<Values<typeof SERVER_METRICS_FLAGS>>,
): ServerMetricsOptions | undefined {
  const on = v.serverMetrics || (v.trackMetric?.length ?? 0) > 0 ||
    v.metricsSnapshot !== undefined || v.compareSnapshot !== undefined ||
    v.serverCsv !== undefined || v.serverHtml !== undefined ||
    v.metricsInterval !== undefined || v.imbalanceThreshold !== undefined;
  if (!on) return undefined;
  return {
    ...(v.metricsInterval !== undefined ? { intervalMs: v.metricsInterval } : {}),
    ...(v.trackMetric?.length ? { fields: v.trackMetric } : {}),
    ...(v.imbalanceThreshold !== undefined ? { imbalanceThresholdPct: v.imbalanceThreshold } : {}),
  };
}

/**
 * After a run: writes `--metrics-snapshot` and `--server-csv`, and prints the
 * `--compare-snapshot` changes.
 *
 * @param reports The run's server figures by part (a bench test's name, `replay`).
 */
export async function serverSnapshotOutputs(
  v: Partial<Values<typeof SERVER_METRICS_FLAGS>>,
  reports: Record<string, ServerReport>,
  ctx: { print(s: string): void; output(path: string, text: string): Promise<void> },
): Promise<void> {
  if (v.compareSnapshot !== undefined) {
    const saved = await readServerSnapshot(v.compareSnapshot);
    ctx.print(
      formatServerChanges(
        compareServerSnapshots(saved.reports, reports),
        saved.label ?? `${v.compareSnapshot} (${saved.createdAt})`,
      ).trimEnd(),
    );
  }
  if (v.metricsSnapshot !== undefined) {
    await ctx.output(v.metricsSnapshot, serverSnapshotJson(reports));
  }
  if (v.serverCsv === "-") ctx.print(formatServerCsv(reports).trimEnd());
  else if (v.serverCsv !== undefined) await ctx.output(v.serverCsv, formatServerCsv(reports));
  if (v.serverHtml !== undefined) await ctx.output(v.serverHtml, formatServerHtml(reports));
}
