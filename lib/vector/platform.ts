// This module uses no Deno APIs.
import { MembenchError, nearestName } from "../errors/mod.ts";

/** The vector search platforms membench knows, by the name `platform` options take. */
export type VssPlatformName =
  | "redisearch-2.6"
  | "redisearch-2.8"
  | "redis-8"
  | "valkey-search"
  | "memorydb"
  | "elasticache-valkey";

/** A vector element type in FT.CREATE `TYPE`. */
export type VectorType = "FLOAT32" | "FLOAT64" | "FLOAT16" | "BFLOAT16";

/** An FT.CREATE vector algorithm. */
export type VectorAlgorithm = "HNSW" | "FLAT";

/**
 * What one platform accepts, each entry from a public document (`sources`) or, where the
 * documents are silent, from a run against the real server (said so in `notes`).
 */
export interface VssPlatform {
  /** The name `platform` options take. */
  name: VssPlatformName;
  /** What it is, for messages. */
  title: string;
  /** Public documents the entries come from. */
  sources: readonly string[];
  /** Element types in FT.CREATE `TYPE`. */
  types: readonly VectorType[];
  /** Optional FT.CREATE attributes per algorithm (TYPE, DIM, DISTANCE_METRIC are required). */
  hnswParams: readonly string[];
  flatParams: readonly string[];
  /** `ON JSON` indexes. */
  onJson: boolean;
  /** Largest DIM. */
  maxDim: number;
  /** Largest M and EF_CONSTRUCTION / EF_RUNTIME, when documented. */
  maxM?: number;
  maxEf?: number;
  /** DIALECT values FT.SEARCH accepts; the first is what membench sends. */
  dialects: readonly number[];
  /** `SORTBY <score alias>` after a KNN query (valkey-search: the alias is not a field). */
  sortByScore: boolean;
  /** EF_RUNTIME inside a KNN clause on a FLAT index: `error`, or `ignored`. */
  efRuntimeOnFlat: "error" | "ignored";
  /** NOCONTENT in FT.SEARCH. */
  nocontent: boolean;
  /** Hybrid queries: a TAG/NUMERIC pre-filter before `=>[KNN …]`. */
  hybrid: boolean;
  /** TIMEOUT in FT.SEARCH. */
  queryTimeout: boolean;
  /** What a query cut short by its timeout gives: fewer results, or an error reply. */
  timeoutReply: "partial" | "error";
  /** FT.INFO: how to tell indexing is over. */
  indexingFields: "redisearch" | "valkey";
  /** Notes: what was observed rather than read. */
  notes?: string;
}

const REDIS_VECTORS_DOC = "https://redis.io/docs/interact/search-and-query/search/vectors/";
const REDIS_FT_CREATE_DOC = "https://redis.io/docs/latest/commands/ft.create/";
const REDIS_FT_SEARCH_DOC = "https://redis.io/docs/latest/commands/ft.search/";
const VALKEY_FT_CREATE_DOC = "https://valkey.io/commands/ft.create";
const VALKEY_FT_SEARCH_DOC = "https://valkey.io/commands/ft.search";
const OBSERVED = "shared/VECTOR-PLATFORMS.md (FT.* commands run against the real servers)";

const REDISEARCH_HNSW = ["M", "EF_CONSTRUCTION", "EF_RUNTIME", "EPSILON", "INITIAL_CAP"];
const REDISEARCH_FLAT = ["BLOCK_SIZE", "INITIAL_CAP"];
const VALKEY_HNSW = ["M", "EF_CONSTRUCTION", "EF_RUNTIME", "INITIAL_CAP"];
const VALKEY_FLAT = ["INITIAL_CAP"];

/**
 * The capability table. RediSearch 2.6/2.8 and valkey-search 1.x were also checked against real
 * servers (`shared/VECTOR-PLATFORMS.md`); the cloud services are from their documents only.
 */
export const VSS_PLATFORMS: Readonly<Record<VssPlatformName, VssPlatform>> = {
  "redisearch-2.6": {
    name: "redisearch-2.6",
    title: "RediSearch 2.6 (Redis Stack 6.2/7.0)",
    sources: [REDIS_VECTORS_DOC, REDIS_FT_CREATE_DOC, REDIS_FT_SEARCH_DOC, OBSERVED],
    types: ["FLOAT32", "FLOAT64"],
    hnswParams: REDISEARCH_HNSW,
    flatParams: REDISEARCH_FLAT,
    onJson: true,
    maxDim: 32768,
    dialects: [2, 3],
    sortByScore: true,
    efRuntimeOnFlat: "error",
    nocontent: true,
    hybrid: true,
    queryTimeout: true,
    timeoutReply: "partial",
    indexingFields: "redisearch",
    notes: "FLOAT16/BFLOAT16 rejected (types came in 2.10); the default ON_TIMEOUT policy " +
      "`return` answers a timed-out query with fewer results and no error (observed on 2.6.37)",
  },
  "redisearch-2.8": {
    name: "redisearch-2.8",
    title: "RediSearch 2.8 (Redis Stack 7.2)",
    sources: [REDIS_VECTORS_DOC, REDIS_FT_CREATE_DOC, REDIS_FT_SEARCH_DOC, OBSERVED],
    types: ["FLOAT32", "FLOAT64"],
    hnswParams: REDISEARCH_HNSW,
    flatParams: REDISEARCH_FLAT,
    onJson: true,
    maxDim: 32768,
    dialects: [2, 3, 4],
    sortByScore: true,
    efRuntimeOnFlat: "error",
    nocontent: true,
    hybrid: true,
    queryTimeout: true,
    timeoutReply: "partial",
    indexingFields: "redisearch",
  },
  "redis-8": {
    name: "redis-8",
    title: "Redis 8 / Redis Stack 7.4 (RediSearch 2.10 and later)",
    sources: [REDIS_VECTORS_DOC, REDIS_FT_CREATE_DOC, REDIS_FT_SEARCH_DOC],
    types: ["FLOAT32", "FLOAT64", "FLOAT16", "BFLOAT16"],
    hnswParams: REDISEARCH_HNSW,
    flatParams: REDISEARCH_FLAT,
    onJson: true,
    maxDim: 32768,
    dialects: [2, 3, 4],
    sortByScore: true,
    efRuntimeOnFlat: "error",
    nocontent: true,
    hybrid: true,
    queryTimeout: true,
    timeoutReply: "partial",
    indexingFields: "redisearch",
  },
  "valkey-search": {
    name: "valkey-search",
    title: "valkey-search 1.x (Valkey)",
    sources: [VALKEY_FT_CREATE_DOC, VALKEY_FT_SEARCH_DOC, OBSERVED],
    types: ["FLOAT32"],
    hnswParams: VALKEY_HNSW,
    flatParams: VALKEY_FLAT,
    onJson: true,
    maxDim: 32768,
    maxM: 512,
    maxEf: 4096,
    dialects: [2, 3, 4],
    sortByScore: false,
    efRuntimeOnFlat: "ignored",
    nocontent: true,
    hybrid: true,
    queryTimeout: true,
    timeoutReply: "error",
    indexingFields: "valkey",
    notes: "SORTBY on the KNN alias fails (``Index field `score` does not exist``); results " +
      "already ascend by distance (observed on 1.2.1)",
  },
  "memorydb": {
    name: "memorydb",
    title: "Amazon MemoryDB (vector search)",
    sources: [
      "https://docs.aws.amazon.com/memorydb/latest/devguide/vector-search-commands-ft.create.html",
      "https://docs.aws.amazon.com/memorydb/latest/devguide/vector-search-commands-ft.search.html",
    ],
    types: ["FLOAT32"],
    hnswParams: VALKEY_HNSW,
    flatParams: VALKEY_FLAT,
    onJson: true,
    maxDim: 32768,
    maxM: 512,
    maxEf: 4096,
    dialects: [2],
    sortByScore: false,
    efRuntimeOnFlat: "ignored",
    nocontent: false,
    hybrid: true,
    queryTimeout: true,
    timeoutReply: "error",
    indexingFields: "valkey",
    notes: "FT.SEARCH documents RETURN, TIMEOUT, PARAMS, LIMIT and COUNT, not NOCONTENT or SORTBY",
  },
  "elasticache-valkey": {
    name: "elasticache-valkey",
    title: "Amazon ElastiCache for Valkey 8.2 (valkey-search)",
    sources: [
      "https://docs.aws.amazon.com/AmazonElastiCache/latest/dg/vector-search.html",
      VALKEY_FT_CREATE_DOC,
      VALKEY_FT_SEARCH_DOC,
    ],
    types: ["FLOAT32"],
    hnswParams: VALKEY_HNSW,
    flatParams: VALKEY_FLAT,
    onJson: true,
    maxDim: 32768,
    maxM: 512,
    maxEf: 4096,
    dialects: [2, 3, 4],
    sortByScore: false,
    efRuntimeOnFlat: "ignored",
    nocontent: true,
    hybrid: true,
    queryTimeout: true,
    timeoutReply: "error",
    indexingFields: "valkey",
  },
};

/** The platform names, for messages and flag help. */
export const VSS_PLATFORM_NAMES = Object.keys(VSS_PLATFORMS) as VssPlatformName[];

/**
 * A platform from its name, as users write it (`valkey-search`, `redisearch-2.6`).
 *
 * @throws {MembenchError} `invalid_argument` naming the nearest known platform.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * assert.equal(vssPlatform("valkey-search").sortByScore, false);
 * assert.throws(() => vssPlatform("valkey-serch"), /did you mean 'valkey-search'/);
 * ```
 */
export function vssPlatform(name: string): VssPlatform {
  const p = VSS_PLATFORMS[name as VssPlatformName];
  if (p) return p;
  const near = nearestName(name, VSS_PLATFORM_NAMES);
  throw new MembenchError(
    "invalid_argument",
    `Cannot use platform ${JSON.stringify(name)}: expected one of ${VSS_PLATFORM_NAMES.join(", ")}${
      near ? ` (did you mean '${near}'?)` : ""
    }`,
  );
}

/** What a server says about itself, for {@linkcode platformFromServer}. */
export interface ServerModules {
  /** `MODULE LIST` entries: name and version number (RediSearch 2.6.37 is 20637). */
  modules: ReadonlyArray<{ name: string; version: number }>;
  /** `INFO server` fields (`redis_version`, `valkey_version`, `server_name`). */
  server: Readonly<Record<string, string>>;
}

/**
 * The platform a server runs, from `MODULE LIST` and `INFO server`: Valkey with a `search`
 * module is valkey-search; Redis with `search` is RediSearch by version (2.6, 2.8, later is
 * `redis-8`); Redis 8 without a listed module has search built in.
 *
 * @throws {MembenchError} `invalid_argument` when the server has no search module, with a
 * hint on how to load one.
 *
 * @example Usage
 * ```ts
 * import assert from "node:assert/strict";
 * const p = platformFromServer({ modules: [{ name: "search", version: 20637 }], server: { redis_version: "7.0.15" } });
 * assert.equal(p.name, "redisearch-2.6");
 * ```
 */
export function platformFromServer(s: ServerModules, where = "the server"): VssPlatform {
  const search = s.modules.find((m) => /^(search|ft|searchlight)$/i.test(m.name));
  const valkey = s.server["valkey_version"] !== undefined ||
    s.server["server_name"]?.toLowerCase() === "valkey";
  if (search) {
    if (valkey) return VSS_PLATFORMS["valkey-search"];
    const v = search.version;
    if (v < 20800) return VSS_PLATFORMS["redisearch-2.6"];
    if (v < 21000) return VSS_PLATFORMS["redisearch-2.8"];
    return VSS_PLATFORMS["redis-8"];
  }
  const major = Number((s.server["redis_version"] ?? "0").split(".")[0]);
  if (!valkey && major >= 8) return VSS_PLATFORMS["redis-8"];
  throw new MembenchError(
    "invalid_argument",
    `Cannot run vector search on ${where}: it has no search module (MODULE LIST: ${
      s.modules.map((m) => m.name).join(", ") || "none"
    })`,
    {
      hint: "load one (redis-server --loadmodule /path/to/redisearch.so, valkey-server " +
        "--loadmodule /path/to/libsearch.so) or point the target at a server that has it",
    },
  );
}
