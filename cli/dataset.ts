// deno-lint-ignore-file no-console
import { MembenchError } from "../lib/errors/mod.ts";
import {
  convertDataset,
  datasetGroundTruth,
  datasetInfo,
  type DistanceMetric,
  generateDataset,
  type GroundTruth,
  openDataset,
  parseMetric,
  parseNumericSpecs,
  parseTagSpecs,
  VecsWriter,
} from "../lib/vector/mod.ts";
import { intFlag, parseFlags } from "./args.ts";
import { EXIT } from "./exit_codes.ts";

export const DATASET_HELP = `membench dataset: vector datasets (formats, conversion, ground truth)

Usage:
  membench dataset info FILE [--json] [--quick] [--metric M] [--query-file F] [--groundtruth-file F]
  membench dataset convert IN OUT [--metric M] [--queries N] [--gt K] [--name S] [--dtype float16]
  membench dataset groundtruth FILE --k K [--num-vectors N] [--vector-offset M] [--filter EXPR]
                                         [--metric M] [--output F.ivecs] [--json F|-] [--check]
  membench dataset generate OUT --dim D --count N --queries Q [--clusters C] [--metric M]
                                [--tags red:0.5,blue:0.01] [--numeric price:0:100] [--seed S] [--k K]

Formats read: TEXMEX .fvecs/.ivecs/.bvecs (X_base with X_query and X_groundtruth siblings),
ann-benchmarks HDF5 (train, test, neighbors, distances), NumPy .npy, and membench's binary
format (valkey-search-benchmark's layout, with metadata), which convert and generate write
(convert also writes .fvecs/.ivecs when OUT ends in .fvecs).

  info         format, dimension, counts, element type, metric, ground-truth depth, metadata
               fields and SHA-256 of each file; every row is read and checked (--quick: headers)
  convert      --queries N keeps the first N queries (or holds out the last N vectors when the
               input has none); --gt K computes exact ground truth of depth K
  groundtruth  exact top-K over the vectors that will be loaded ([--vector-offset,
               +--num-vectors)) that pass --filter (RediSearch syntax: '@tag:{a|b} @price:[10 20]');
               ties by (distance, then lower id); --check compares with the file's ground truth;
               write --filter=EXPR when EXPR starts with '-'
  generate     Gaussian mixture, tags with the given shares, uniform numeric fields, exact
               ground truth; the same seed gives the same bytes

Common: --threads N (default: all cores), --no-progress, --metric L2|IP|COSINE (euclidean,
dot, angular). Exit codes: 0 ok, 2 invalid flags, 4 --check found a difference, 5 malformed file.
`;

function metricFlag(v: unknown): DistanceMetric | undefined {
  return typeof v === "string" ? parseMetric(v, "flag '--metric'") : undefined;
}

function progressBar(enabled: boolean): {
  update: (label: string, done: number, total: number) => void;
  end: () => void;
} {
  const live = enabled && Deno.stderr.isTerminal();
  const enc = new TextEncoder();
  let last = 0;
  return {
    update(label, done, total) {
      if (!live) return;
      const now = performance.now();
      if (now - last < 100 && done < total) return;
      last = now;
      const width = 30;
      const frac = total > 0 ? Math.min(1, done / total) : 1;
      const full = Math.round(frac * width);
      Deno.stderr.writeSync(
        enc.encode(
          `\r\x1b[K${label.padEnd(12)} [${"#".repeat(full)}${" ".repeat(width - full)}] ${
            (frac * 100).toFixed(0).padStart(3)
          }%  ${done.toLocaleString("en-US")}/${total.toLocaleString("en-US")}`,
        ),
      );
    },
    end() {
      if (live) Deno.stderr.writeSync(enc.encode("\r\x1b[K"));
    },
  };
}

function interruptSignal(): { signal: AbortSignal; [Symbol.dispose](): void } {
  const ac = new AbortController();
  const onInt = () => ac.abort();
  Deno.addSignalListener("SIGINT", onInt);
  return {
    signal: ac.signal,
    [Symbol.dispose]: () => Deno.removeSignalListener("SIGINT", onInt),
  };
}

/** `membench dataset`: returns the exit code. */
export async function datasetCommand(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  switch (sub) {
    case undefined:
    case "--help":
    case "-h":
    case "help":
      console.log(DATASET_HELP);
      return sub === undefined ? EXIT.usage : EXIT.ok;
    case "info":
      return await infoCommand(rest);
    case "convert":
      return await convertCommand(rest);
    case "groundtruth":
      return await groundTruthCommand(rest);
    case "generate":
      return await generateCommand(rest);
    default:
      throw new MembenchError(
        "invalid_argument",
        `Unknown dataset command '${sub}': expected info, convert, groundtruth or generate`,
      );
  }
}

async function infoCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    json: { type: "boolean" },
    quick: { type: "boolean" },
    metric: { type: "string" },
    "query-file": { type: "string" },
    "groundtruth-file": { type: "string" },
    help: { type: "boolean" },
  });
  if (v.help) {
    console.log(DATASET_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new MembenchError("invalid_argument", "membench dataset info takes one FILE");
  }
  const metric = metricFlag(v.metric);
  const info = await datasetInfo(positionals[0]!, {
    ...(metric ? { metric } : {}),
    ...(typeof v["query-file"] === "string" ? { queryFile: v["query-file"] } : {}),
    ...(typeof v["groundtruth-file"] === "string"
      ? { groundTruthFile: v["groundtruth-file"] }
      : {}),
    checksum: !v.quick,
    verify: !v.quick,
  });
  if (v.json) {
    console.log(JSON.stringify(info, null, 2));
    return EXIT.ok;
  }
  const lines = [
    `file          ${info.path}`,
    `format        ${info.format}`,
    `name          ${info.name}`,
    `dim           ${info.dim}`,
    `vectors       ${info.vectors.toLocaleString("en-US")}`,
    `queries       ${info.queries.toLocaleString("en-US")}`,
    `dtype         ${info.elementType}`,
    `metric        ${info.metric ?? "unknown (L2 assumed; say --metric)"}${
      info.metricSource === "option" ? " (from --metric)" : ""
    }`,
    `ground truth  ${info.groundTruthDepth ? `top ${info.groundTruthDepth}` : "none"}${
      info.hasDistances ? " with distances" : ""
    }`,
    `metadata      ${
      info.metadata
        ? `tag field '${info.metadata.tagField}' (${info.metadata.vocabulary.length} tags: ${
          info.metadata.vocabulary.slice(0, 10).join(", ")
        }${info.metadata.vocabulary.length > 10 ? ", …" : ""}); numeric: ${
          info.metadata.numericFields.join(", ") || "none"
        }`
        : "none"
    }`,
  ];
  for (const f of info.files) {
    lines.push(
      `file          ${f.path} ${f.bytes.toLocaleString("en-US")} bytes${
        f.sha256 ? ` sha256 ${f.sha256}` : ""
      }`,
    );
  }
  lines.push(`verified      ${info.verified ? "every row read and checked" : "no (--quick)"}`);
  console.log(lines.join("\n"));
  return EXIT.ok;
}

async function convertCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    metric: { type: "string" },
    queries: { type: "string" },
    gt: { type: "string" },
    name: { type: "string" },
    dtype: { type: "string" },
    threads: { type: "string" },
    "query-file": { type: "string" },
    "groundtruth-file": { type: "string" },
    "no-progress": { type: "boolean" },
    json: { type: "boolean" },
    help: { type: "boolean" },
  });
  if (v.help) {
    console.log(DATASET_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 2) {
    throw new MembenchError("invalid_argument", "membench dataset convert takes IN and OUT");
  }
  const dtype = v.dtype as string | undefined;
  if (dtype !== undefined && dtype !== "float32" && dtype !== "float16") {
    throw new MembenchError(
      "invalid_argument",
      `Cannot use flag '--dtype': expected float32 or float16: current value is ${
        JSON.stringify(dtype)
      }`,
    );
  }
  const metric = metricFlag(v.metric);
  const queries = intFlag("--queries", v.queries, 0);
  const gt = intFlag("--gt", v.gt, 1);
  const threads = intFlag("--threads", v.threads, 0);
  const bar = progressBar(!v["no-progress"]);
  using sig = interruptSignal();
  let r;
  try {
    r = await convertDataset(positionals[0]!, positionals[1]!, {
      ...(metric ? { metric } : {}),
      ...(queries !== undefined ? { queries } : {}),
      ...(gt !== undefined ? { gt } : {}),
      ...(typeof v.name === "string" ? { name: v.name } : {}),
      ...(dtype ? { dtype: dtype as "float32" | "float16" } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(typeof v["query-file"] === "string" ? { queryFile: v["query-file"] } : {}),
      ...(typeof v["groundtruth-file"] === "string"
        ? { groundTruthFile: v["groundtruth-file"] }
        : {}),
      signal: sig.signal,
      onProgress: (p) => bar.update(p.phase, p.done, p.total),
    });
  } finally {
    bar.end();
  }
  if (v.json) {
    const { groundTruth: _gt, ...rest } = r;
    console.log(JSON.stringify(rest, null, 2));
    return EXIT.ok;
  }
  console.log(
    `wrote ${r.files.join(", ")}: ${r.vectors.toLocaleString("en-US")} vectors x ${r.dim}, ${
      r.queries.toLocaleString("en-US")
    } queries${r.heldOut ? " (held out of the base)" : ""}, metric ${r.metric}, ground truth ${
      r.groundTruthDepth
        ? `top ${r.groundTruthDepth} (${r.groundTruthComputed ? "computed" : "copied"})`
        : "none"
    }`,
  );
  return EXIT.ok;
}

async function groundTruthCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    k: { type: "string" },
    "num-vectors": { type: "string" },
    "vector-offset": { type: "string" },
    filter: { type: "string" },
    metric: { type: "string" },
    threads: { type: "string" },
    output: { type: "string", short: "o" },
    json: { type: "string" },
    check: { type: "boolean" },
    exact: { type: "boolean" },
    "query-file": { type: "string" },
    "groundtruth-file": { type: "string" },
    "no-progress": { type: "boolean" },
    help: { type: "boolean" },
  });
  if (v.help) {
    console.log(DATASET_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new MembenchError("invalid_argument", "membench dataset groundtruth takes one FILE");
  }
  const k = intFlag("--k", v.k, 1);
  if (k === undefined) throw new MembenchError("invalid_argument", "Flag '--k' is required");
  const numVectors = intFlag("--num-vectors", v["num-vectors"], 0);
  const vectorOffset = intFlag("--vector-offset", v["vector-offset"], 0);
  const threads = intFlag("--threads", v.threads, 0);
  const metric = metricFlag(v.metric);
  using ds = await openDataset(positionals[0]!, {
    ...(metric ? { metric } : {}),
    ...(typeof v["query-file"] === "string" ? { queryFile: v["query-file"] } : {}),
    ...(typeof v["groundtruth-file"] === "string"
      ? { groundTruthFile: v["groundtruth-file"] }
      : {}),
  });
  if (ds.metricSource === "unknown") {
    console.error(`membench: ${ds.path} does not say its metric; using L2 (say --metric)`);
  }
  const bar = progressBar(!v["no-progress"]);
  using sig = interruptSignal();
  let gt: GroundTruth;
  try {
    gt = await datasetGroundTruth(ds, {
      k,
      ...(numVectors !== undefined ? { numVectors } : {}),
      ...(vectorOffset !== undefined ? { vectorOffset } : {}),
      ...(typeof v.filter === "string" ? { filter: v.filter } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(v.exact ? { exact: true } : {}),
      signal: sig.signal,
      onProgress: (p) => bar.update(p.phase, p.done, p.total),
    });
  } finally {
    bar.end();
  }
  let check: { depth: number; recall: number; identical: boolean } | undefined;
  if (v.check) {
    if (!ds.neighbors) {
      throw new MembenchError("invalid_argument", `Cannot --check: ${ds.path} has no ground truth`);
    }
    const depth = Math.min(k, ds.neighbors.dim);
    const ref = await ds.neighbors.readInts(0, ds.neighbors.rows);
    let hits = 0, same = true;
    for (let qi = 0; qi < gt.queries; qi++) {
      const want = new Set(ref.subarray(qi * ds.neighbors.dim, qi * ds.neighbors.dim + depth));
      for (let j = 0; j < depth; j++) {
        const id = gt.ids[qi * k + j]!;
        if (want.has(id)) hits++;
        if (id !== ref[qi * ds.neighbors.dim + j]) same = false;
      }
    }
    check = { depth, recall: hits / (gt.queries * depth), identical: same };
  }
  const out = v.output as string | undefined;
  if (out !== undefined) {
    const w = await VecsWriter.create(out, "ivecs", k);
    await w.write(gt.ids);
    await w.close();
    const dpath = out.replace(/(\.ivecs)?$/i, "_distances.fvecs");
    const wd = await VecsWriter.create(dpath, "fvecs", k);
    await wd.write(Float32Array.from(gt.distances));
    await wd.close();
  }
  const summary = {
    file: ds.path,
    metric: gt.metric,
    k: gt.k,
    queries: gt.queries,
    vectorOffset: gt.vectorOffset,
    numVectors: gt.numVectors,
    ...(gt.filter !== undefined ? { filter: gt.filter } : {}),
    matched: gt.matched,
    recheckedQueries: gt.recheckedQueries,
    kernel: gt.kernel,
    threads: gt.threads,
    elapsedMs: Math.round(gt.elapsedMs),
    ...(check ? { check } : {}),
  };
  const json = v.json as string | undefined;
  if (json !== undefined) {
    const full = JSON.stringify({
      ...summary,
      ids: chunk(gt.ids, k),
      distances: chunk(gt.distances, k),
    });
    if (json === "-") console.log(full);
    else await Deno.writeTextFile(json, full + "\n");
  }
  if (json !== "-") {
    console.log(
      `ground truth of ${ds.path}: top ${gt.k} (${gt.metric}) for ${gt.queries} queries over vectors ${gt.vectorOffset}..${
        gt.vectorOffset + gt.numVectors
      }${
        gt.filter !== undefined
          ? `, filter ${gt.filter} (${gt.matched.toLocaleString("en-US")} match)`
          : ""
      } in ${(gt.elapsedMs / 1000).toFixed(2)} s (${gt.kernel}, ${gt.threads} threads${
        gt.recheckedQueries ? `, ${gt.recheckedQueries} queries rechecked in float64` : ""
      })`,
    );
    if (out !== undefined) console.log(`wrote ${out} and its _distances.fvecs`);
    if (check) {
      console.log(
        `check against the file's ground truth (top ${check.depth}): recall ${
          (check.recall * 100).toFixed(3)
        }%, ${check.identical ? "identical order" : "order differs"}`,
      );
    }
  }
  return check && !check.identical ? EXIT.threshold : EXIT.ok;
}

function chunk(a: ArrayLike<number>, k: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.length; i += k) {
    out.push(Array.from({ length: k }, (_, j) => {
      const x = a[i + j]!;
      return Number.isFinite(x) ? x : -1;
    }));
  }
  return out;
}

async function generateCommand(argv: string[]): Promise<number> {
  const { values: v, positionals } = parseFlags(argv, {
    dim: { type: "string" },
    count: { type: "string" },
    queries: { type: "string" },
    clusters: { type: "string" },
    metric: { type: "string" },
    tags: { type: "string" },
    "tag-field": { type: "string" },
    numeric: { type: "string" },
    seed: { type: "string" },
    k: { type: "string" },
    name: { type: "string" },
    threads: { type: "string" },
    "no-progress": { type: "boolean" },
    help: { type: "boolean" },
  });
  if (v.help) {
    console.log(DATASET_HELP);
    return EXIT.ok;
  }
  if (positionals.length !== 1) {
    throw new MembenchError("invalid_argument", "membench dataset generate takes one OUT file");
  }
  const dim = intFlag("--dim", v.dim, 1), count = intFlag("--count", v.count, 1);
  const queries = intFlag("--queries", v.queries, 0) ?? 0;
  const missing = [["--dim", dim], ["--count", count]].filter(([, x]) => x === undefined);
  if (missing.length) {
    throw new MembenchError(
      "invalid_argument",
      `Flag${missing.length > 1 ? "s" : ""} ${
        missing.map((m) => `'${m[0]}'`).join(" and ")
      } required`,
    );
  }
  const clusters = intFlag("--clusters", v.clusters, 1);
  const seed = intFlag("--seed", v.seed, 0);
  const k = intFlag("--k", v.k, 0);
  const threads = intFlag("--threads", v.threads, 0);
  const metric = metricFlag(v.metric);
  const bar = progressBar(!v["no-progress"]);
  using sig = interruptSignal();
  let r;
  try {
    r = await generateDataset(positionals[0]!, {
      dim: dim!,
      count: count!,
      queries,
      ...(clusters !== undefined ? { clusters } : {}),
      ...(metric ? { metric } : {}),
      ...(typeof v.tags === "string" ? { tags: parseTagSpecs(v.tags) } : {}),
      ...(typeof v["tag-field"] === "string" ? { tagField: v["tag-field"] } : {}),
      ...(typeof v.numeric === "string" ? { numeric: parseNumericSpecs(v.numeric) } : {}),
      ...(seed !== undefined ? { seed } : {}),
      ...(k !== undefined ? { k } : {}),
      ...(typeof v.name === "string" ? { name: v.name } : {}),
      ...(threads !== undefined ? { threads } : {}),
      signal: sig.signal,
      onProgress: (p) => bar.update(p.phase, p.done, p.total),
    });
  } finally {
    bar.end();
  }
  console.log(
    `wrote ${r.path}: ${r.vectors.toLocaleString("en-US")} vectors x ${r.dim}, ${
      r.queries.toLocaleString("en-US")
    } queries, metric ${r.metric}${r.groundTruth ? `, ground truth top ${r.groundTruth.k}` : ""}`,
  );
  return EXIT.ok;
}
