/**
 * `membench k8s`: `job` writes the Kubernetes manifests of a sharded run (`k8sJobManifests()` ->
 * `toYaml()`), `dockerfile` prints the Dockerfile of a membench image (`k8sDockerfile()`).
 *
 * @module
 */
import { EXIT, MembenchError } from "../lib/errors/mod.ts";
import {
  K8S_DEFAULT_IMAGE,
  K8S_MAX_SHARDS,
  k8sCollectCommands,
  k8sDockerfile,
  k8sJobManifests,
  type K8sJobOptions,
  toYaml,
} from "../lib/k8s/mod.ts";
import {
  BadValue,
  type CommandSpec,
  custom,
  defined,
  duration,
  int,
  oneOf,
  type Problems,
  text,
} from "./flags.ts";
import { runCommand, runSubcommand } from "./runner.ts";

const NAME_KEY = /^([^/\s]+)\/([^/\s]+)$/;

const K8S_JOB_FLAGS = {
  name: text({ value: "NAME", required: true, help: "the Job's name (a DNS label)" }),
  shards: int({
    value: "N",
    min: 1,
    max: K8S_MAX_SHARDS,
    required: true,
    help: "pods, each running one shard: the Job's parallelism and completions",
  }),
  scenario: text({
    value: "FILE",
    help: "run this scenario file in each pod (put in a ConfigMap); else the bench after --",
  }),
  out: text({
    short: "o",
    value: "FILE",
    section: "Output",
    help: "write the manifests to FILE (default: stdout)",
  }),
  format: oneOf(["yaml", "json"] as const, {
    value: "F",
    section: "Output",
    default: "yaml",
    help: "yaml (documents separated by ---) or json (one v1 List)",
  }),
  namespace: text({ short: "n", value: "NS", section: "Kubernetes", help: "the namespace" }),
  image: text({
    value: "IMAGE",
    section: "Kubernetes",
    defaultText: K8S_DEFAULT_IMAGE,
    help: "the membench image (build one with: membench k8s dockerfile)",
  }),
  pullPolicy: oneOf(["Always", "IfNotPresent", "Never"] as const, {
    value: "P",
    section: "Kubernetes",
    defaultText: "IfNotPresent",
    help: "the image pull policy",
  }),
  target: text({
    value: "URI",
    section: "Target",
    help: "the server(s) to load: MEMBENCH_TARGET in each pod (bench gets -u with it); " +
      "no password in it",
  }),
  passwordSecret: custom({
    value: "NAME/KEY",
    section: "Target",
    help: "the password from this Secret's key (REDISCLI_AUTH in the pods); never written " +
      "into the manifest",
  }, (s) => {
    const m = NAME_KEY.exec(s.trim());
    if (!m) throw new BadValue("expected SECRET/KEY");
    return { name: m[1]!, key: m[2]! };
  }),
  seed: int({
    value: "N",
    max: 2 ** 32 - 1,
    section: "Target",
    defaultText: "a bench: a random one, written into the manifest; a scenario: its own",
    help: "the seed every shard draws keys and sizes from (shards of one run must share one); " +
      "a scenario gets it as MEMBENCH_SEED",
  }),
  startAt: text({
    value: "TIME",
    section: "Start",
    help: "shards begin together at this wall-clock time (ISO-8601, 2026-11-30T01:00:00Z)",
  }),
  startIn: duration({
    value: "DURATION",
    section: "Start",
    help: "shards begin together this long after the manifests are written (60s): apply them " +
      "before then",
  }),
  results: oneOf(["logs", "volume"] as const, {
    value: "WHERE",
    section: "Results",
    default: "logs",
    help: "logs: each pod prints its result as one JSON line (kubectl logs | membench merge -); " +
      "volume: each pod writes a file on a shared ReadWriteMany volume, merged by a collect Job",
  }),
  volumeClaim: text({
    value: "PVC",
    section: "Results",
    help: "an existing claim for --results volume (default: a new one, NAME-results)",
  }),
  volumeSize: text({
    value: "SIZE",
    section: "Results",
    defaultText: "1Gi",
    help: "the size of a new claim",
  }),
  storageClass: text({
    value: "CLASS",
    section: "Results",
    help: "the new claim's storage class (it must offer ReadWriteMany)",
  }),
  cpu: text({ value: "Q", section: "Resources", defaultText: "1", help: "CPU request per pod" }),
  memory: text({
    value: "Q",
    section: "Resources",
    defaultText: "512Mi",
    help: "memory request per pod",
  }),
  cpuLimit: text({
    value: "Q",
    section: "Resources",
    help: "CPU limit per pod (default none: a limit throttles the load and skews latencies)",
  }),
  memoryLimit: text({
    value: "Q",
    section: "Resources",
    defaultText: "the memory request",
    help: "memory limit per pod",
  }),
  spread: oneOf(["preferred", "required", "none"] as const, {
    value: "HOW",
    section: "Scheduling",
    defaultText: "preferred",
    help: "pod anti-affinity over nodes (kubernetes.io/hostname): required leaves pods pending " +
      "when there are fewer nodes than shards",
  }),
  nodeSelector: text({
    value: "KEY=VALUE",
    multiple: true,
    section: "Scheduling",
    help: "run only on nodes with this label (repeatable)",
  }),
  serviceAccount: text({ value: "NAME", section: "Scheduling", help: "the pods' service account" }),
  retries: int({
    value: "N",
    section: "Job",
    defaultText: "0",
    help: "retries of a failed shard (the others run on; bad flags and failed thresholds are " +
      "not retried)",
  }),
  ttl: duration({
    value: "DURATION",
    section: "Job",
    defaultText: "24h",
    help: "how long the finished Job and its pods' logs are kept",
  }),
  deadline: duration({
    value: "DURATION",
    section: "Job",
    help: "stop the Job when it has run this long (activeDeadlineSeconds)",
  }),
  env: text({
    value: "NAME=VALUE",
    multiple: true,
    section: "Job",
    help: "another environment variable of the pods (repeatable; TZ=UTC, say)",
  }),
};

/** `membench k8s job`: name, help and flags. */
export const K8S_JOB: CommandSpec<typeof K8S_JOB_FLAGS> = {
  name: "k8s job",
  summary: "Kubernetes manifests that run a bench or a scenario as N shards",
  usage: [
    "membench k8s job --name NAME --shards N [flags] -- BENCH_ARGS...",
    "membench k8s job --name NAME --shards N --scenario FILE [flags]",
  ],
  about: "Writes an Indexed Job (completionMode Indexed, parallelism and completions N) whose " +
    "pod I runs\nshard I of N (membench bench BENCH_ARGS --shard I/N, or the scenario with " +
    "MEMBENCH_SHARD=I/N),\nspread over nodes, with the scenario in a ConfigMap and the results " +
    "in the pods' logs or on a\nshared volume. The commands to run it and merge the results " +
    "are printed on stderr.",
  flags: K8S_JOB_FLAGS,
  args: [],
  footer: "Example:\n" +
    "  membench k8s job --name load --shards 4 --target redis.default:6379 \\\n" +
    "    --password-secret redis/password --start-in 60s -- -t set,get -n 1000000 -c 200 " +
    "> job.yaml\n" +
    "  kubectl apply -f job.yaml\n" +
    "  kubectl wait --for=condition=complete --timeout=24h job/load\n" +
    "  kubectl logs -l job-name=load --prefix=false --tail=-1 | membench merge --shards 4 -\n" +
    "Exit codes: 0 ok, 2 invalid flags or bench arguments, 5 unreadable scenario file.",
};

/** `membench k8s dockerfile` (no flags). */
const K8S_DOCKERFILE_FLAGS = {};
const K8S_DOCKERFILE: CommandSpec<typeof K8S_DOCKERFILE_FLAGS> = {
  name: "k8s dockerfile",
  summary: "the Dockerfile of a membench image",
  usage: ["membench k8s dockerfile | docker build -t membench:TAG -f- ."],
  about: "Run from the root of a membench checkout: the image holds the repository, its npm " +
    "packages and\nevery module cached, and runs membench.",
  flags: K8S_DOCKERFILE_FLAGS,
  args: [],
};

/** `membench k8s`: name and summary (for the command list). */
export const K8S = {
  name: "k8s",
  summary: "Kubernetes: manifests for sharded runs, and an image to run them",
};

function k8sHelp(): string {
  return [
    `membench k8s: ${K8S.summary}`,
    "",
    "Usage: membench k8s job --name NAME --shards N [--scenario FILE | -- BENCH_ARGS...]",
    "       membench k8s dockerfile",
    "",
    "Commands",
    `  job         ${K8S_JOB.summary}`,
    `  dockerfile  ${K8S_DOCKERFILE.summary}`,
    "",
    "Run 'membench k8s <command> --help' for its flags.",
    "",
  ].join("\n");
}

/** `KEY=VALUE` pairs, each malformed one a problem. */
function pairs(items: readonly string[], what: string, problems: Problems): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of items) {
    const at = item.indexOf("=");
    if (at <= 0) problems.add(`Cannot use ${what} ${JSON.stringify(item)}: expected NAME=VALUE`);
    else out[item.slice(0, at)] = item.slice(at + 1);
  }
  return out;
}

/** The start time of `--start-in`: now plus the duration, rounded up to a whole second. */
function startInTime(ms: number, now = Date.now()): string {
  return new Date(Math.ceil((now + ms) / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

function jobCommand(argv: readonly string[]): Promise<number> {
  // The bench's own arguments follow `--`; they are passed on, not read here.
  const dash = argv.indexOf("--");
  const own = dash < 0 ? argv : argv.slice(0, dash);
  const benchArgs = dash < 0 ? undefined : argv.slice(dash + 1);
  return runCommand({
    spec: K8S_JOB,
    interruptible: false,
    async prepare({ values: v, given }, problems) {
      if (given.has("startAt") && given.has("startIn")) {
        problems.add("Cannot use '--start-at' and '--start-in' together: choose one");
      }
      let scenario: K8sJobOptions["scenario"];
      if (v.scenario !== undefined) {
        if (benchArgs !== undefined) {
          problems.add("Cannot use '--scenario' with bench arguments after '--': choose one");
        }
        try {
          scenario = {
            fileName: v.scenario.split("/").pop()!,
            source: await Deno.readTextFile(v.scenario),
          };
        } catch (e) {
          throw new MembenchError(
            "file",
            `Cannot read scenario ${v.scenario}: ${e instanceof Error ? e.message : e}`,
          );
        }
      } else if (benchArgs === undefined || benchArgs.length === 0) {
        problems.add(
          "Nothing to run: give '--scenario FILE', or the bench's arguments after '--' " +
            "(membench k8s job --name x --shards 4 -- -t get -n 100000)",
        );
      }
      const startAt = v.startIn !== undefined ? startInTime(v.startIn) : v.startAt;
      // Shards must share a seed: a bench that names none gets a random one, in the manifest.
      const seed = v.seed ??
        (scenario === undefined && !(benchArgs ?? []).some((a) => /^--seed(=|$)/.test(a))
          ? crypto.getRandomValues(new Uint32Array(1))[0]!
          : undefined);
      const options: K8sJobOptions = {
        name: v.name,
        shards: v.shards,
        results: v.results,
        ...(scenario !== undefined ? { scenario } : { bench: benchArgs ?? [] }),
        ...defined({
          namespace: v.namespace,
          image: v.image,
          imagePullPolicy: v.pullPolicy,
          target: v.target,
          passwordSecret: v.passwordSecret,
          startAt,
          seed,
          volumeClaim: v.volumeClaim,
          volumeSize: v.volumeSize,
          storageClass: v.storageClass,
          cpu: v.cpu,
          memory: v.memory,
          cpuLimit: v.cpuLimit,
          memoryLimit: v.memoryLimit,
          spread: v.spread,
          retries: v.retries,
          ttlSeconds: v.ttl === undefined ? undefined : Math.ceil(v.ttl / 1000),
          deadlineSeconds: v.deadline === undefined ? undefined : Math.ceil(v.deadline / 1000),
          serviceAccount: v.serviceAccount,
        }),
        ...(v.nodeSelector.length > 0
          ? { nodeSelector: pairs(v.nodeSelector, "node selector", problems) }
          : {}),
        ...(v.env.length > 0 ? { env: pairs(v.env, "environment variable", problems) } : {}),
      };
      // Every problem of the options joins the flags' (the library says them all at once); a
      // name or shard count the flags already refused stands in as a valid one.
      for (
        const p of k8sJobProblemsOf({ ...options, name: v.name ?? "x", shards: v.shards ?? 1 })
      ) {
        problems.add(p);
      }
      return { options, v };
    },
    async run({ options, v }, ctx) {
      const objects = k8sJobManifests(options);
      const text = v.format === "json"
        ? JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }, null, 2) + "\n"
        : toYaml(objects);
      if (v.out !== undefined && v.out !== "-") await ctx.output(v.out, text);
      else ctx.print(text.trimEnd());
      const next = k8sCollectCommands(options, v.out ?? "job.yaml");
      ctx.note(
        [
          `membench: ${objects.length} object${objects.length === 1 ? "" : "s"} for ` +
          `${options.shards} shard${options.shards === 1 ? "" : "s"}` +
          (options.startAt !== undefined ? `, starting at ${options.startAt}` : "") +
          (options.seed !== undefined ? `, seed ${options.seed}` : "") +
          (v.out !== undefined && v.out !== "-" ? ` written to ${v.out}` : "") + "; then:",
          ...next.map((c) => `  ${c}`),
          ...(options.scenario !== undefined && options.seed === undefined
            ? [
              "membench: note: the shards draw the same keys only if the scenario sets its seed " +
              "(or give --seed)",
            ]
            : []),
        ].join("\n"),
      );
      return EXIT.ok;
    },
  }, own);
}

/** The library's problems with the options, skipping those the flags already reported. */
function k8sJobProblemsOf(o: K8sJobOptions): string[] {
  try {
    k8sJobManifests(o);
    return [];
  } catch (e) {
    if (e instanceof MembenchError && e.code === "invalid_argument") return e.message.split("\n");
    throw e;
  }
}

function dockerfileCommand(argv: readonly string[]): Promise<number> {
  return runCommand({
    spec: K8S_DOCKERFILE,
    interruptible: false,
    prepare: () => undefined,
    run(_, ctx) {
      ctx.print(k8sDockerfile({ denoVersion: Deno.version.deno }).trimEnd());
      return Promise.resolve(EXIT.ok);
    },
  }, argv);
}

/** `membench k8s`: returns the exit code. */
export function k8sCommand(argv: readonly string[]): Promise<number> {
  return runSubcommand("k8s", argv, k8sHelp, {
    job: jobCommand,
    dockerfile: dockerfileCommand,
  });
}

/** The k8s subcommands (for the help checks). */
export const K8S_SUBCOMMANDS = [K8S_JOB, K8S_DOCKERFILE] as const;
