// This module uses no Deno APIs.
import type { ConvertResult, DatasetInfo, GenerateResult, GroundTruth } from "../vector/mod.ts";
import { withSchema } from "./schemas.ts";

const n = (x: number) => x.toLocaleString("en-US");

/** `membench dataset info` as text: one field a line. */
export function formatDatasetInfo(info: DatasetInfo): string {
  const lines = [
    `file          ${info.path}`,
    `format        ${info.format}`,
    `name          ${info.name}`,
    `dim           ${info.dim}`,
    `vectors       ${n(info.vectors)}`,
    `queries       ${n(info.queries)}`,
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
      `file          ${f.path} ${n(f.bytes)} bytes${f.sha256 ? ` sha256 ${f.sha256}` : ""}`,
    );
  }
  lines.push(`verified      ${info.verified ? "every row read and checked" : "no (--quick)"}`);
  return lines.join("\n");
}

/** `membench dataset info --json`: the info as JSON. */
export function formatDatasetInfoJson(info: DatasetInfo): string {
  return JSON.stringify(withSchema("dataset-info", info), null, 2);
}

/** A conversion's result as one line. */
export function formatConvertText(r: ConvertResult): string {
  return `wrote ${r.files.join(", ")}: ${n(r.vectors)} vectors x ${r.dim}, ${n(r.queries)} queries${
    r.heldOut ? " (held out of the base)" : ""
  }, metric ${r.metric}, ground truth ${
    r.groundTruthDepth
      ? `top ${r.groundTruthDepth} (${r.groundTruthComputed ? "computed" : "copied"})`
      : "none"
  }`;
}

/** A conversion's result as JSON, without the computed ground truth's arrays. */
export function formatConvertJson(r: ConvertResult): string {
  const { groundTruth: _gt, ...rest } = r;
  return JSON.stringify(withSchema("dataset-convert", rest), null, 2);
}

/** A generated dataset as one line. */
export function formatGenerateText(r: GenerateResult): string {
  return `wrote ${r.path}: ${n(r.vectors)} vectors x ${r.dim}, ${
    n(r.queries)
  } queries, metric ${r.metric}${r.groundTruth ? `, ground truth top ${r.groundTruth.k}` : ""}`;
}

/** How a computed ground truth compares with the one a dataset ships. */
export interface GroundTruthCheck {
  /** Neighbours compared per query. */
  depth: number;
  /** Share of the shipped neighbours found. */
  recall: number;
  /** Same ids in the same order. */
  identical: boolean;
}

/** A computed ground truth, summed up (no arrays). */
export function groundTruthSummary(
  file: string,
  gt: GroundTruth,
  check?: GroundTruthCheck,
): Record<string, unknown> {
  return {
    file,
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
}

/** A computed ground truth as one JSON line: the summary, then ids and distances per query. */
export function formatGroundTruthJson(
  file: string,
  gt: GroundTruth,
  check?: GroundTruthCheck,
): string {
  return JSON.stringify(withSchema("ground-truth", {
    ...groundTruthSummary(file, gt, check),
    ids: rows(gt.ids, gt.k),
    distances: rows(gt.distances, gt.k),
  }));
}

function rows(a: ArrayLike<number>, k: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.length; i += k) {
    out.push(Array.from({ length: k }, (_, j) => {
      const x = a[i + j]!;
      return Number.isFinite(x) ? x : -1;
    }));
  }
  return out;
}

/** A computed ground truth as text: what was computed, where it went, and the check. */
export function formatGroundTruthText(
  file: string,
  gt: GroundTruth,
  o: { output?: string; check?: GroundTruthCheck } = {},
): string {
  const lines = [
    `ground truth of ${file}: top ${gt.k} (${gt.metric}) for ${gt.queries} queries over vectors ${gt.vectorOffset}..${
      gt.vectorOffset + gt.numVectors
    }${gt.filter !== undefined ? `, filter ${gt.filter} (${n(gt.matched)} match)` : ""} in ${
      (gt.elapsedMs / 1000).toFixed(2)
    } s (${gt.kernel}, ${gt.threads} threads${
      gt.recheckedQueries ? `, ${gt.recheckedQueries} queries rechecked in float64` : ""
    })`,
  ];
  if (o.output !== undefined) lines.push(`wrote ${o.output} and its _distances.fvecs`);
  if (o.check) {
    lines.push(
      `check against the file's ground truth (top ${o.check.depth}): recall ${
        (o.check.recall * 100).toFixed(3)
      }%, ${o.check.identical ? "identical order" : "order differs"}`,
    );
  }
  return lines.join("\n");
}
