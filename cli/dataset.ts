/**
 * `membench dataset`: info, convert, groundtruth and generate; flags -> `lib/vector/` -> the
 * dataset renderers.
 *
 * @module
 */
import { EXIT, MembenchError } from "../lib/errors/mod.ts";
import {
  formatConvertJson,
  formatConvertText,
  formatDatasetInfo,
  formatDatasetInfoJson,
  formatGenerateText,
  formatGroundTruthJson,
  formatGroundTruthText,
  type GroundTruthCheck,
} from "../lib/report/mod.ts";
import {
  convertDataset,
  datasetGroundTruth,
  datasetInfo,
  type DistanceMetric,
  generateDataset,
  openDataset,
  parseMetric,
  parseNumericSpecs,
  parseTagSpecs,
  VecsWriter,
} from "../lib/vector/mod.ts";
import { OUTPUT_FLAGS, writeJson } from "./common_flags.ts";
import {
  BadValue,
  bool,
  type CommandSpec,
  custom,
  defined,
  type FlagSet,
  formatFlags,
  int,
  oneOf,
  text,
  withSpec,
  wrapText,
} from "./flags.ts";
import { runCommand, runSubcommand } from "./runner.ts";

const FILES = "Input";
const COMMON = {
  metric: custom({
    value: "M",
    section: FILES,
    help: "L2, IP or COSINE (euclidean, dot, angular); overrides what the file says",
  }, (s) => {
    try {
      return parseMetric(s);
    } catch {
      throw new BadValue("expected L2 (euclidean), IP (dot) or COSINE (angular)");
    }
  }),
  queryFile: text({ value: "F", section: FILES, help: "the queries, when not beside the base" }),
  groundtruthFile: text({
    value: "F",
    section: FILES,
    help: "the ground truth, when not beside the base",
  }),
  threads: int({ value: "N", section: "Run", help: "worker threads", defaultText: "all cores" }),
  noProgress: withSpec(OUTPUT_FLAGS.noProgress, { section: "Run" }),
};

/** The input flags of a subcommand, for the library's `OpenDatasetOptions`. */
function inputOptions(
  v: {
    metric?: DistanceMetric | undefined;
    queryFile?: string | undefined;
    groundtruthFile?: string | undefined;
  },
) {
  return defined({
    metric: v.metric,
    queryFile: v.queryFile,
    groundTruthFile: v.groundtruthFile,
  });
}

const INFO_FLAGS = {
  metric: COMMON.metric,
  queryFile: COMMON.queryFile,
  groundtruthFile: COMMON.groundtruthFile,
  json: withSpec(OUTPUT_FLAGS.json, { help: 'the info as JSON ("-" for stdout)' }),
  quick: bool({ section: "Output", help: "read the headers only: no checksums, no row checks" }),
};

const INFO: CommandSpec<typeof INFO_FLAGS> = {
  name: "dataset info",
  summary: "format, dimension, counts, element type, metric, ground-truth depth, metadata fields " +
    "and SHA-256 of each file; every row is read and checked (--quick: headers)",
  usage: ["membench dataset info FILE [--json FILE|-] [--quick] [--metric M]"],
  flags: INFO_FLAGS,
  args: ["FILE"],
};

const CONVERT_FLAGS = {
  queries: int({
    value: "N",
    section: "Convert",
    help: "keep the first N queries (or hold out the last N vectors when the input has none)",
  }),
  gt: int({
    value: "K",
    min: 1,
    section: "Convert",
    help: "compute exact ground truth of depth K",
  }),
  name: text({ value: "S", section: "Convert", help: "the dataset's name" }),
  dtype: oneOf(["float32", "float16"], {
    value: "T",
    section: "Convert",
    help: "element type written",
    defaultText: "float32",
  }),
  ...COMMON,
  json: withSpec(OUTPUT_FLAGS.json, { help: 'the result as JSON ("-" for stdout)' }),
};

const CONVERT: CommandSpec<typeof CONVERT_FLAGS> = {
  name: "dataset convert",
  summary:
    "convert a dataset to membench's binary format (or .fvecs/.ivecs when OUT ends in .fvecs)",
  usage: ["membench dataset convert IN OUT [--metric M] [--queries N] [--gt K] [--dtype float16]"],
  flags: CONVERT_FLAGS,
  args: ["IN", "OUT"],
};

const GROUNDTRUTH_FLAGS = {
  k: int({
    value: "K",
    min: 1,
    required: true,
    section: "Ground truth",
    help: "neighbours per query",
  }),
  numVectors: int({
    value: "N",
    section: "Ground truth",
    help: "vectors that will be loaded",
    defaultText: "all from the offset",
  }),
  vectorOffset: int({
    value: "M",
    section: "Ground truth",
    help: "first vector",
    defaultText: "0",
  }),
  filter: text({
    value: "EXPR",
    section: "Ground truth",
    help: "only vectors that pass it (RediSearch syntax: '@tag:{a|b} @price:[10 20]'); write " +
      "--filter=EXPR when EXPR starts with '-'",
  }),
  exact: bool({ section: "Ground truth", help: "every distance in float64 (no screening pass)" }),
  check: bool({
    section: "Ground truth",
    help: "compare with the file's ground truth (exit 4 when the order differs)",
  }),
  ...COMMON,
  output: text({
    short: "o",
    value: "F.ivecs",
    section: "Output",
    help: "write the ids (and F_distances.fvecs)",
  }),
  json: withSpec(OUTPUT_FLAGS.json, {
    help: 'the summary with ids and distances as JSON ("-" for stdout)',
  }),
};

const GROUNDTRUTH: CommandSpec<typeof GROUNDTRUTH_FLAGS> = {
  name: "dataset groundtruth",
  summary: "exact top-K over the vectors that will be loaded ([--vector-offset, +--num-vectors)) " +
    "that pass --filter; ties by (distance, then lower id)",
  usage: ["membench dataset groundtruth FILE --k K [--num-vectors N] [--vector-offset M] [flags]"],
  flags: GROUNDTRUTH_FLAGS,
  args: ["FILE"],
};

const GENERATE_FLAGS = {
  dim: int({ value: "D", min: 1, required: true, section: "Generate", help: "dimension" }),
  count: int({ value: "N", min: 1, required: true, section: "Generate", help: "vectors" }),
  queries: int({ value: "Q", default: 0, section: "Generate", help: "queries" }),
  clusters: int({ value: "C", min: 1, section: "Generate", help: "Gaussian clusters" }),
  tags: custom({
    value: "TAG:SHARE,...",
    section: "Generate",
    help: "tags with the given shares, e.g. red:0.5,blue:0.01",
  }, parseTagSpecs),
  tagField: text({ value: "NAME", section: "Generate", help: "the tag field's name" }),
  numeric: custom({
    value: "NAME:MIN:MAX,...",
    section: "Generate",
    help: "uniform numeric fields, e.g. price:0:100",
  }, parseNumericSpecs),
  seed: int({ value: "S", section: "Generate", help: "seed: the same seed gives the same bytes" }),
  k: int({ value: "K", section: "Generate", help: "exact ground truth of depth K" }),
  name: text({ value: "S", section: "Generate", help: "the dataset's name" }),
  metric: COMMON.metric,
  threads: COMMON.threads,
  noProgress: COMMON.noProgress,
};

const GENERATE: CommandSpec<typeof GENERATE_FLAGS> = {
  name: "dataset generate",
  summary: "a Gaussian mixture with tags and numeric fields, and its exact ground truth",
  usage: [
    "membench dataset generate OUT --dim D --count N --queries Q [--clusters C] [--metric M]",
    "                          [--tags red:0.5,blue:0.01] [--numeric price:0:100] [--seed S] [--k K]",
  ],
  flags: GENERATE_FLAGS,
  args: ["OUT"],
};

/** The dataset subcommands, in the order the help lists them. */
export const DATASET_SUBCOMMANDS: ReadonlyArray<CommandSpec<FlagSet>> = [
  INFO,
  CONVERT,
  GROUNDTRUTH,
  GENERATE,
];

/** `membench dataset`: the overview, with every subcommand's flags. */
export const DATASET = {
  name: "dataset",
  summary: "vector datasets: info, convert, groundtruth (exact top-k), generate",
};

function datasetHelp(): string {
  return [
    "membench dataset: vector datasets (formats, conversion, ground truth)",
    "",
    "Usage:",
    ...DATASET_SUBCOMMANDS.flatMap((s) => s.usage.map((u) => `  ${u}`)),
    "",
    "Formats read: TEXMEX .fvecs/.ivecs/.bvecs (X_base with X_query and X_groundtruth siblings),",
    "ann-benchmarks HDF5 (train, test, neighbors, distances), NumPy .npy, and membench's binary",
    "format (valkey-search-benchmark's layout, with metadata), which convert and generate write",
    "(convert also writes .fvecs/.ivecs when OUT ends in .fvecs).",
    "",
    ...DATASET_SUBCOMMANDS.flatMap((s) => [
      ...wrapText(`${s.name.replace("dataset ", "")}: ${s.summary}`, 100),
      "",
      formatFlags(s.flags, false),
      "",
    ]),
    "      --help                print the help (of a subcommand: membench dataset info --help)",
    "",
    "Exit codes: 0 ok, 2 invalid flags, 4 --check found a difference, 5 malformed file, 130 " +
    "interrupted.",
    "",
  ].join("\n");
}

/** `membench dataset`: returns the exit code. */
export function datasetCommand(argv: readonly string[]): Promise<number> {
  return runSubcommand("dataset", argv, datasetHelp, {
    info: infoCommand,
    convert: convertCommand,
    groundtruth: groundTruthCommand,
    generate: generateCommand,
  });
}

function infoCommand(argv: readonly string[]): Promise<number> {
  return runCommand({
    spec: INFO,
    interruptible: false,
    prepare: ({ values, positionals: [file] }) => ({ file: file!, v: values }),
    async run({ file, v }, ctx) {
      const info = await datasetInfo(file, {
        ...inputOptions(v),
        checksum: !v.quick,
        verify: !v.quick,
      });
      if (!await writeJson(ctx, v.json, () => formatDatasetInfoJson(info))) {
        ctx.print(formatDatasetInfo(info));
      }
      return EXIT.ok;
    },
  }, argv);
}

function convertCommand(argv: readonly string[]): Promise<number> {
  return runCommand({
    spec: CONVERT,
    prepare: ({ values, positionals: [input, output] }) => ({
      input: input!,
      output: output!,
      v: values,
    }),
    async run({ input, output, v }, ctx) {
      const r = await convertDataset(input, output, {
        ...inputOptions(v),
        ...defined({
          queries: v.queries,
          gt: v.gt,
          name: v.name,
          dtype: v.dtype,
          threads: v.threads,
        }),
        signal: ctx.signal,
        onProgress: (p) => ctx.bar(p.phase, p.done, p.total),
      });
      if (!await writeJson(ctx, v.json, () => formatConvertJson(r))) {
        ctx.print(formatConvertText(r));
      }
      return EXIT.ok;
    },
  }, argv);
}

function groundTruthCommand(argv: readonly string[]): Promise<number> {
  return runCommand({
    spec: GROUNDTRUTH,
    prepare: ({ values, positionals: [file] }) => ({ file: file!, v: values }),
    async run({ file, v }, ctx) {
      using ds = await openDataset(file, inputOptions(v));
      if (ds.metricSource === "unknown") {
        ctx.note(`membench: ${ds.path} does not say its metric; using L2 (say --metric)`);
      }
      const gt = await datasetGroundTruth(ds, {
        k: v.k,
        ...defined({
          numVectors: v.numVectors,
          vectorOffset: v.vectorOffset,
          filter: v.filter,
          threads: v.threads,
          exact: v.exact || undefined,
        }),
        signal: ctx.signal,
        onProgress: (p) => ctx.bar(p.phase, p.done, p.total),
      });
      let check: GroundTruthCheck | undefined;
      if (v.check) {
        if (!ds.neighbors) {
          throw new MembenchError(
            "invalid_argument",
            `Cannot --check: ${ds.path} has no ground truth`,
          );
        }
        // TODO(vector): this comparison belongs in lib/vector (a compareGroundTruth()).
        const depth = Math.min(v.k, ds.neighbors.dim);
        const ref = await ds.neighbors.readInts(0, ds.neighbors.rows);
        let hits = 0, same = true;
        for (let qi = 0; qi < gt.queries; qi++) {
          const row = qi * ds.neighbors.dim;
          const want = new Set(ref.subarray(row, row + depth));
          for (let j = 0; j < depth; j++) {
            const id = gt.ids[qi * v.k + j]!;
            if (want.has(id)) hits++;
            if (id !== ref[row + j]) same = false;
          }
        }
        check = { depth, recall: hits / (gt.queries * depth), identical: same };
      }
      if (v.output !== undefined) {
        const w = await VecsWriter.create(v.output, "ivecs", v.k);
        await w.write(gt.ids);
        await w.close();
        const wd = await VecsWriter.create(
          v.output.replace(/(\.ivecs)?$/i, "_distances.fvecs"),
          "fvecs",
          v.k,
        );
        await wd.write(Float32Array.from(gt.distances));
        await wd.close();
      }
      if (v.json !== undefined) {
        await ctx.output(v.json, formatGroundTruthJson(ds.path, gt, check) + "\n");
      }
      if (v.json !== "-") {
        ctx.print(
          formatGroundTruthText(ds.path, gt, {
            ...defined({ output: v.output, check }),
          }),
        );
      }
      return check && !check.identical ? EXIT.threshold : EXIT.ok;
    },
  }, argv);
}

function generateCommand(argv: readonly string[]): Promise<number> {
  return runCommand({
    spec: GENERATE,
    prepare: ({ values, positionals: [out] }) => ({ out: out!, v: values }),
    async run({ out, v }, ctx) {
      const r = await generateDataset(out, {
        dim: v.dim,
        count: v.count,
        queries: v.queries,
        ...defined({
          clusters: v.clusters,
          metric: v.metric,
          tags: v.tags,
          tagField: v.tagField,
          numeric: v.numeric,
          seed: v.seed,
          k: v.k,
          name: v.name,
          threads: v.threads,
        }),
        signal: ctx.signal,
        onProgress: (p) => ctx.bar(p.phase, p.done, p.total),
      });
      ctx.print(formatGenerateText(r));
      return EXIT.ok;
    },
  }, argv);
}
