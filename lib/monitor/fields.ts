// This module uses no Deno APIs.
import { MembenchError, nearestName } from "../errors/mod.ts";

/**
 * How a server field is read: a counter only grows (its delta and rate over the run matter), a
 * gauge goes up and down (last, min, max, growth), a text is shown as is.
 */
export type FieldKind = "counter" | "gauge" | "text";

/**
 * A tracked field. `name` is a flat name as {@linkcode flattenInfo} and
 * {@linkcode flattenMemcacheStats} produce (`stats.keyspace_hits`, `cmd.get.calls`,
 * `keyspace.db0.keys`, `ft.idx.num_docs`); a `*` stands for one or more parts (`cmd.*.calls`),
 * so a set covers every command or database the server reports.
 */
export interface FieldDef {
  /** Flat name, possibly with `*` parts. */
  name: string;
  /** How to read it. */
  kind: FieldKind;
}

/** The server kinds a monitor knows. */
export type ServerKind = "redis" | "memcached";

const c = (name: string): FieldDef => ({ name, kind: "counter" });
const g = (name: string): FieldDef => ({ name, kind: "gauge" });
const t = (name: string): FieldDef => ({ name, kind: "text" });

/**
 * Redis / Valkey `INFO` (all sections, commandstats, errorstats, keyspace). CPU seconds are
 * counters: their rate is the share of a core the server used.
 */
export const REDIS_FIELDS: readonly FieldDef[] = [
  t("server.redis_version"),
  t("server.redis_mode"),
  t("replication.role"),
  c("stats.total_commands_processed"),
  c("stats.total_net_input_bytes"),
  c("stats.total_net_output_bytes"),
  c("stats.keyspace_hits"),
  c("stats.keyspace_misses"),
  c("stats.evicted_keys"),
  c("stats.expired_keys"),
  c("stats.rejected_connections"),
  c("stats.total_connections_received"),
  c("stats.total_error_replies"),
  c("cpu.used_cpu_sys"),
  c("cpu.used_cpu_user"),
  g("clients.connected_clients"),
  g("clients.blocked_clients"),
  g("memory.used_memory"),
  g("memory.used_memory_rss"),
  g("memory.mem_fragmentation_ratio"),
  g("replication.connected_slaves"),
  c("replication.master_repl_offset"),
  g("keyspace.*.keys"),
  g("keyspace.*.expires"),
  c("cmd.*.calls"),
  c("cmd.*.usec"),
  c("cmd.*.failed_calls"),
  c("cmd.*.rejected_calls"),
  c("errorstats.*.count"),
];

/**
 * Vector search, as observed on RediSearch 2.6/2.8 and valkey-search 1.2 (see
 * `../shared/VECTOR-PLATFORMS.md`): `FT.INFO <index>` flattened as `ft.<index>.<field>`
 * (`num_docs`, `indexing`, `percent_indexed`, `hash_indexing_failures` on both; valkey-search's
 * backfill fields and `state`), and valkey-search's `INFO` sections `search_memory`,
 * `search_index_stats`, `search_indexing` (every field, as gauges) and `search_latency`; and the
 * FT.INFO fields Amazon MemoryDB documents (space_usage, vector_space_usage,
 * num_indexed_vectors, current_lag, backfill_status:
 * https://docs.aws.amazon.com/memorydb/latest/devguide/vector-search-commands-ft.info.html).
 */
export const SEARCH_FIELDS: readonly FieldDef[] = [
  g("ft.*.num_docs"),
  g("ft.*.num_records"),
  g("ft.*.percent_indexed"),
  c("ft.*.hash_indexing_failures"),
  g("ft.*.indexing"),
  g("ft.*.vector_index_sz_mb"),
  g("ft.*.inverted_sz_mb"),
  g("ft.*.doc_table_size_mb"),
  g("ft.*.backfill_in_progress"),
  g("ft.*.backfill_complete_percent"),
  t("ft.*.state"),
  g("ft.*.space_usage"),
  g("ft.*.vector_space_usage"),
  g("ft.*.fulltext_space_usage"),
  g("ft.*.num_indexed_vectors"),
  g("ft.*.current_lag"),
  t("ft.*.backfill_status"),
  g("search_memory.*"),
  g("search_index_stats.*"),
  g("search_indexing.*"),
  t("search_latency.*"),
];

/** memcached `stats` and `stats slabs`. */
export const MEMCACHED_FIELDS: readonly FieldDef[] = [
  t("stats.version"),
  c("stats.cmd_get"),
  c("stats.cmd_set"),
  c("stats.cmd_touch"),
  c("stats.get_hits"),
  c("stats.get_misses"),
  c("stats.get_expired"),
  c("stats.delete_hits"),
  c("stats.delete_misses"),
  c("stats.incr_hits"),
  c("stats.decr_hits"),
  c("stats.cas_hits"),
  c("stats.evictions"),
  c("stats.expired_unfetched"),
  c("stats.bytes_read"),
  c("stats.bytes_written"),
  c("stats.total_connections"),
  c("stats.rejected_connections"),
  c("stats.rusage_user"),
  c("stats.rusage_system"),
  g("stats.curr_items"),
  g("stats.bytes"),
  g("stats.curr_connections"),
  g("stats.limit_maxbytes"),
  g("slabs.active_slabs"),
  g("slabs.total_malloced"),
];

/** The default fields of a server kind. */
export function defaultFields(kind: ServerKind): readonly FieldDef[] {
  return kind === "redis" ? [...REDIS_FIELDS, ...SEARCH_FIELDS] : MEMCACHED_FIELDS;
}

/**
 * Parses a user field: `section.field` or `section.field:counter|gauge|text` (gauge when not
 * said).
 *
 * @throws {MembenchError} `invalid_argument` naming the spec and what is wrong.
 */
export function parseFieldSpec(spec: string): FieldDef {
  const i = spec.lastIndexOf(":");
  const name = i < 0 ? spec : spec.slice(0, i);
  const kind = i < 0 ? "gauge" : spec.slice(i + 1);
  if (kind !== "counter" && kind !== "gauge" && kind !== "text") {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use metric '${spec}': the kind must be counter, gauge or text: current value is '${kind}'`,
    );
  }
  if (!/^[A-Za-z0-9_*-]+(\.[A-Za-z0-9_*:-]+)+$/.test(name)) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use metric '${spec}': write it as section.field (for example memory.used_memory or stats.keyspace_hits)`,
    );
  }
  return { name, kind };
}

/**
 * Whether a flat name matches a field name with `*` parts. A `*` stands for one or more parts, so
 * `cmd.*.calls` covers a module's dotted commands (`cmd.ft.search.calls`) too.
 */
export function fieldMatches(pattern: string, name: string): boolean {
  if (!pattern.includes("*")) return pattern === name;
  let re = PATTERNS.get(pattern);
  if (re === undefined) {
    re = new RegExp(
      `^${pattern.split("*").map((x) => x.replace(/[.+?^${}()|[\]\\]/g, "\\$&")).join(".+")}$`,
    );
    PATTERNS.set(pattern, re);
  }
  return re.test(name);
}

const PATTERNS = new Map<string, RegExp>();

/**
 * The flat names of `values` each def covers, in a stable order; a def with no `*` that the
 * server does not report is left out (a server of another version lacks some defaults).
 */
export function expandFields(
  defs: readonly FieldDef[],
  names: Iterable<string>,
): Array<{ name: string; kind: FieldKind }> {
  const all = [...names];
  const out: Array<{ name: string; kind: FieldKind }> = [];
  const seen = new Set<string>();
  for (const d of defs) {
    for (const n of all) {
      if (!seen.has(n) && fieldMatches(d.name, n)) {
        seen.add(n);
        out.push({ name: n, kind: d.kind });
      }
    }
  }
  return out;
}

/**
 * Checks that each user field exists on a server (in one of its first snapshots' names).
 *
 * @throws {MembenchError} `invalid_argument` naming the field, the node and the nearest name.
 */
export function checkUserFields(
  defs: readonly FieldDef[],
  names: readonly string[],
  node: string,
): void {
  for (const d of defs) {
    if (names.some((n) => fieldMatches(d.name, n))) continue;
    const near = nearestName(d.name, names);
    const section = d.name.split(".")[0]!;
    const inSection = names.filter((n) => n.startsWith(section + ".")).slice(0, 5);
    throw new MembenchError(
      "invalid_argument",
      `Cannot track metric '${d.name}': ${node} reports no such field${
        near ? ` (did you mean '${near}'?)` : ""
      }${inSection.length > 0 ? `; ${section} has ${inSection.join(", ")}, …` : ""}`,
    );
  }
}
