// This module uses no Deno APIs.
/**
 * Kubernetes manifests for a sharded run: an Indexed Job whose N pods each run one shard of a
 * bench or a scenario (`membench bench ... --shard I/N`, or `membench run` with `MEMBENCH_SHARD`),
 * the scenario in a ConfigMap, and the results where one step collects them: the pods' logs
 * (each pod prints its result as one NDJSON line, `kubectl logs ... | membench merge -`) or a
 * shared volume (each pod writes a file, and a suspended "collect" Job merges them when resumed).
 *
 * Pure: options in, plain objects out (`toYaml` writes them); nothing is printed or read.
 *
 * @module
 */
import { MembenchError } from "../errors/mod.ts";
import { VERSION } from "../version.ts";

/** Where each pod's result goes, and how they are collected. */
export type K8sResults = "logs" | "volume";

/** How the pods are spread over nodes (pod anti-affinity on `kubernetes.io/hostname`). */
export type K8sSpread = "preferred" | "required" | "none";

/** Options of {@linkcode k8sJobManifests}. */
export interface K8sJobOptions {
  /** The Job's name (a DNS label: lowercase letters, digits, `-`; at most 50 characters). */
  name: string;
  /** Shards: the Job's parallelism and completions, and `N` of every pod's `--shard I/N`. */
  shards: number;
  /**
   * A bench: the arguments of `membench bench` (without `--shard`, `--json`, `--start-at`, `-q`
   * or a password, which the manifest sets or takes from a Secret).
   */
  bench?: readonly string[];
  /** A scenario: its file name (`mix.ts`) and source, put in a ConfigMap and run by each pod. */
  scenario?: { fileName: string; source: string };
  /** The namespace of every object. @default none (kubectl's current namespace) */
  namespace?: string;
  /** The container image. @default {`membench:<version>`} */
  image?: string;
  /** @default {"IfNotPresent"} */
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /**
   * The server(s) to load, set as `MEMBENCH_TARGET` (a scenario's target; bench gets `-u
   * $(MEMBENCH_TARGET)`). Never with a password in it: see `passwordSecret`.
   */
  target?: string;
  /** The password, from a Secret (`REDISCLI_AUTH` in the pod); never written in the manifest. */
  passwordSecret?: { name: string; key: string };
  /**
   * The seed every shard draws keys and sizes from (shards of one run must share it): bench's
   * `--seed` (required for a bench unless its arguments give `--seed`), a scenario's
   * `MEMBENCH_SEED` (else the scenario's own `seed` holds).
   */
  seed?: number;
  /** A common start (ISO-8601 wall clock): bench's `--start-at`, and `MEMBENCH_START_AT`. */
  startAt?: string;
  /** Where results go. @default {"logs"} */
  results?: K8sResults;
  /**
   * The shared volume (results "volume"): an existing PersistentVolumeClaim, or a new
   * ReadWriteMany claim `<name>-results` of `volumeSize` (in `storageClass`, if given).
   */
  volumeClaim?: string;
  /** @default {"1Gi"} */
  volumeSize?: string;
  /** The new claim's storage class. @default the cluster's default */
  storageClass?: string;
  /** CPU request (a Kubernetes quantity: `2`, `500m`). @default {"1"} */
  cpu?: string;
  /** Memory request (`1Gi`). @default {"512Mi"} */
  memory?: string;
  /** CPU limit. @default none: a limit throttles the load generator and skews its latencies */
  cpuLimit?: string;
  /** Memory limit. @default the memory request */
  memoryLimit?: string;
  /** @default {"preferred"} */
  spread?: K8sSpread;
  /** Retries of a failed shard (`backoffLimitPerIndex`); other shards run on. @default 0 */
  retries?: number;
  /** Seconds a finished Job (and its pods' logs) is kept. @default 86400 */
  ttlSeconds?: number;
  /** Seconds the Job may run before Kubernetes stops it (`activeDeadlineSeconds`). */
  deadlineSeconds?: number;
  /** Node labels the pods must match (`nodeSelector`). */
  nodeSelector?: Readonly<Record<string, string>>;
  /** The pods' service account. */
  serviceAccount?: string;
  /** More environment variables (`MEMBENCH_SEED`, say). */
  env?: Readonly<Record<string, string>>;
}

/** A Kubernetes object as plain data. */
export type K8sObject =
  & { apiVersion: string; kind: string; metadata: K8sMeta }
  & Record<
    string,
    unknown
  >;

interface K8sMeta {
  name: string;
  namespace?: string;
  labels: Record<string, string>;
  annotations?: Record<string, string>;
}

/** Where the image keeps membench (its working folder). */
export const K8S_APP_DIR = "/membench";
/**
 * Where a pod finds the scenario: one level under the app folder, so that a scenario importing
 * `../mod.ts` (as the examples in scenarios/ do) finds membench.
 */
export const K8S_SCENARIO_DIR = `${K8S_APP_DIR}/scenario`;
/** Where the shared volume is mounted. */
export const K8S_RESULTS_DIR = "/results";
/** The env variable holding a pod's shard index (from its Job completion index annotation). */
export const K8S_INDEX_ENV = "MEMBENCH_SHARD_INDEX";
/** The default image. */
export const K8S_DEFAULT_IMAGE = `membench:${VERSION}`;
/** Indexed Jobs allow up to 10^5 pods at once; more shards than this is surely a mistake. */
export const K8S_MAX_SHARDS = 10_000;

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
// Kubernetes' quantity grammar (k8s.io/apimachinery resource.Quantity).
const QUANTITY = /^[+-]?(\d+(\.\d*)?|\.\d+)(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?\d+))?$/;
const ENV_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;
const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const LABEL_VALUE = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;

// Bench flags the manifest sets itself, and what to say when they are given.
const OWN_FLAGS: ReadonlyArray<[RegExp, string]> = [
  [/^--shard(=|$)/, "the Job gives each pod its --shard"],
  [/^--json(=|$)/, "the Job sets --json (the pod's result goes to its log or the shared volume)"],
  [/^--start-at(=|$)/, "give the common start with the k8s job's --start-at or --start-in"],
  [/^(-q|--quiet)$/, "the Job sets -q when results go to the logs"],
  [/^(-a|--password|--pass)(=|$)/, "a password would be written into the manifest"],
];

/**
 * Why a `membench bench` argument list cannot go into a manifest (flags the Job sets itself, a
 * password, a URI with credentials), one problem per entry.
 */
function benchArgProblems(args: readonly string[]): string[] {
  const problems: string[] = [];
  for (const a of args) {
    for (const [re, why] of OWN_FLAGS) {
      if (re.test(a)) {
        problems.push(
          `Cannot use bench argument '${a.replace(/=.*/, "=***")}' in a Job: ${why}` +
            (why.startsWith("a password") ? " (use --password-secret NAME/KEY)" : ""),
        );
      }
    }
    if (credentialsIn(a.replace(/^--?[a-z-]+=/i, ""))) {
      problems.push(
        "Cannot put a URI with a password into a Job: it would be written into the manifest " +
          "(use --password-secret NAME/KEY)",
      );
    }
  }
  return problems;
}

/** Whether bench arguments give `--seed`. */
function benchSeedGiven(args: readonly string[]): boolean {
  return args.some((a) => /^--seed(=|$)/.test(a));
}

/**
 * Whether `s` holds a URI with credentials: `redis://user:pass@host`, and `redis://pass@host`
 * (a user alone is the password, as membench's targets read it).
 */
function credentialsIn(s: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\/[^/@]+@/i.test(s.trim());
}

/** Every problem of the options (all at once), or none. */
export function k8sJobProblems(o: K8sJobOptions): string[] {
  const p: string[] = [];
  if (!DNS_LABEL.test(o.name) || o.name.length > 50) {
    p.push(
      `Cannot use Job name ${
        JSON.stringify(o.name)
      }: expected lowercase letters, digits and '-', ` +
        "starting and ending with a letter or digit, at most 50 characters (pods are named " +
        "<name>-<index>-<random>)",
    );
  }
  if (!Number.isInteger(o.shards) || o.shards < 1 || o.shards > K8S_MAX_SHARDS) {
    p.push(`Cannot use ${o.shards} shards: expected an integer from 1 to ${K8S_MAX_SHARDS}`);
  }
  if ((o.bench === undefined) === (o.scenario === undefined)) {
    p.push("A Job runs either a scenario or a bench: give exactly one");
  }
  if (o.bench !== undefined) p.push(...benchArgProblems(o.bench));
  const where = o.bench?.find((a) => /^(-[hpsu]|--(host|port|socket|uri|server))(=|$)/.test(a));
  if (o.target !== undefined && where !== undefined) {
    p.push(
      `Cannot give the Job a target and the bench '${where.replace(/=.*/, "")}': choose one ` +
        "(the target becomes the bench's -u)",
    );
  }
  if (o.seed !== undefined && (!Number.isInteger(o.seed) || o.seed < 0 || o.seed > 2 ** 32 - 1)) {
    p.push(`Cannot use seed ${o.seed}: expected an integer from 0 to ${2 ** 32 - 1}`);
  }
  if (o.bench !== undefined) {
    const given = benchSeedGiven(o.bench);
    if (given && o.seed !== undefined) {
      p.push("Cannot give a seed both in the bench arguments and as the Job's seed: choose one");
    } else if (!given && o.seed === undefined) {
      p.push(
        "A sharded bench needs a seed that every shard shares: give the Job a seed (or --seed " +
          "in the bench arguments)",
      );
    }
  }

  if (o.scenario !== undefined) {
    const f = o.scenario.fileName;
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]*\.(ts|js|mts|mjs)$/.test(f) || f.length > 253) {
      p.push(
        `Cannot use scenario file name ${JSON.stringify(f)} as a ConfigMap key: expected ` +
          "letters, digits, '.', '_' or '-', ending in .ts or .js",
      );
    }
    // A ConfigMap holds at most 1 MiB.
    const bytes = new TextEncoder().encode(o.scenario.source).length;
    if (bytes > 1_000_000) {
      p.push(`Cannot put scenario ${f} in a ConfigMap: ${bytes} bytes, the limit is 1 MiB`);
    }
  }
  if (o.namespace !== undefined && !DNS_LABEL.test(o.namespace)) {
    p.push(`Cannot use namespace ${JSON.stringify(o.namespace)}: expected a DNS label`);
  }
  if (o.image !== undefined && (o.image === "" || /\s/.test(o.image))) {
    p.push(`Cannot use image ${JSON.stringify(o.image)}: expected an image reference`);
  }
  if (o.target !== undefined) {
    if (credentialsIn(o.target)) {
      p.push(
        "Cannot use a target with a password: it would be written into the manifest " +
          "(use --password-secret NAME/KEY)",
      );
    } else if (o.target.trim() === "") p.push("Cannot use an empty target");
  }
  if (o.passwordSecret !== undefined) {
    const { name, key } = o.passwordSecret;
    if (!DNS_SUBDOMAIN.test(name) || name.length > 253) {
      p.push(`Cannot use Secret name ${JSON.stringify(name)}: expected a DNS subdomain`);
    }
    if (!SECRET_KEY.test(key) || key.length > 253) {
      p.push(`Cannot use Secret key ${JSON.stringify(key)}: expected letters, digits, '-._'`);
    }
  }
  if (o.startAt !== undefined && !isIsoTime(o.startAt)) {
    p.push(
      `Cannot use start time ${JSON.stringify(o.startAt)}: expected an ISO-8601 time with a ` +
        "zone, such as 2026-11-30T01:00:00Z",
    );
  }
  if (o.results === "logs" && o.volumeClaim !== undefined) {
    p.push("A volume claim is only used with results on a volume (--results volume)");
  }
  if (o.volumeClaim !== undefined && !DNS_SUBDOMAIN.test(o.volumeClaim)) {
    p.push(`Cannot use volume claim ${JSON.stringify(o.volumeClaim)}: expected a DNS subdomain`);
  }
  if (o.storageClass !== undefined && !DNS_SUBDOMAIN.test(o.storageClass)) {
    p.push(`Cannot use storage class ${JSON.stringify(o.storageClass)}: expected a DNS subdomain`);
  }
  for (
    const [what, q] of [
      ["CPU request", o.cpu],
      ["memory request", o.memory],
      ["CPU limit", o.cpuLimit],
      ["memory limit", o.memoryLimit],
      ["volume size", o.volumeSize],
    ] as const
  ) {
    if (q !== undefined && !QUANTITY.test(q)) {
      p.push(
        `Cannot use ${what} ${JSON.stringify(q)}: expected a Kubernetes quantity ` +
          "(2, 500m, 512Mi, 1Gi)",
      );
    }
  }
  for (
    const [what, n, min] of [
      ["retries", o.retries, 0],
      ["TTL seconds", o.ttlSeconds, 0],
      ["deadline seconds", o.deadlineSeconds, 1],
    ] as const
  ) {
    if (n !== undefined && (!Number.isInteger(n) || n < min || n > 2 ** 31 - 1)) {
      p.push(`Cannot use ${n} ${what}: expected an integer >= ${min}`);
    }
  }
  for (const [k, v] of Object.entries(o.nodeSelector ?? {})) {
    if (!LABEL_KEY.test(k) || !LABEL_VALUE.test(v) || v.length > 63) {
      p.push(`Cannot use node selector ${k}=${v}: expected a label key and value`);
    }
  }
  if (o.serviceAccount !== undefined && !DNS_SUBDOMAIN.test(o.serviceAccount)) {
    p.push(`Cannot use service account ${JSON.stringify(o.serviceAccount)}`);
  }
  const own = new Set([
    "MEMBENCH_SHARDS",
    "MEMBENCH_SHARD",
    K8S_INDEX_ENV,
    "REDISCLI_AUTH",
    ...(o.target !== undefined ? ["MEMBENCH_TARGET"] : []),
    ...(o.startAt !== undefined ? ["MEMBENCH_START_AT"] : []),
    ...(o.scenario !== undefined && o.seed !== undefined ? ["MEMBENCH_SEED"] : []),
    ...(o.scenario !== undefined && o.results === "volume" ? ["MEMBENCH_OUT_DIR"] : []),
  ]);
  for (const k of Object.keys(o.env ?? {})) {
    if (!ENV_NAME.test(k)) p.push(`Cannot use environment variable name ${JSON.stringify(k)}`);
    else if (own.has(k)) p.push(`Cannot set ${k}: the Job sets it`);
  }
  return p;
}

function isIsoTime(s: string): boolean {
  return /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(s) &&
    !Number.isNaN(Date.parse(s));
}

/** The labels every object of the run carries (and the pods' anti-affinity selects). */
export function k8sLabels(name: string): Record<string, string> {
  return {
    "app.kubernetes.io/name": "membench",
    "app.kubernetes.io/instance": name,
    "app.kubernetes.io/version": VERSION,
  };
}

/** The file a pod writes its result to on the shared volume (`$(...)`: Kubernetes expands it). */
export function k8sResultFile(name: string, index: number | string): string {
  return `${K8S_RESULTS_DIR}/${name}-${index}.json`;
}

function meta(o: K8sJobOptions, name: string, component: string): K8sMeta {
  return {
    name,
    ...(o.namespace !== undefined ? { namespace: o.namespace } : {}),
    labels: { ...k8sLabels(o.name), "app.kubernetes.io/component": component },
  };
}

function claimName(o: K8sJobOptions): string {
  return o.volumeClaim ?? `${o.name}-results`;
}

/** The env of every shard pod. */
function shardEnv(o: K8sJobOptions): unknown[] {
  const env: unknown[] = [
    // The downward API gives the pod its completion index, as JOB_COMPLETION_INDEX does; set
    // first so that the entries below can use it.
    {
      name: K8S_INDEX_ENV,
      valueFrom: {
        fieldRef: { fieldPath: "metadata.annotations['batch.kubernetes.io/job-completion-index']" },
      },
    },
    { name: "MEMBENCH_SHARDS", value: String(o.shards) },
    { name: "MEMBENCH_SHARD", value: `$(${K8S_INDEX_ENV})/${o.shards}` },
  ];
  if (o.target !== undefined) env.push({ name: "MEMBENCH_TARGET", value: o.target });
  if (o.startAt !== undefined) env.push({ name: "MEMBENCH_START_AT", value: o.startAt });
  if (o.scenario !== undefined && o.seed !== undefined) {
    env.push({ name: "MEMBENCH_SEED", value: String(o.seed) });
  }
  if (o.scenario !== undefined && o.results === "volume") {
    env.push({
      name: "MEMBENCH_OUT_DIR",
      value: `${K8S_RESULTS_DIR}/${o.name}/$(${K8S_INDEX_ENV})`,
    });
  }
  if (o.passwordSecret !== undefined) {
    env.push({
      name: "REDISCLI_AUTH",
      valueFrom: { secretKeyRef: { name: o.passwordSecret.name, key: o.passwordSecret.key } },
    });
  }
  for (const [name, value] of Object.entries(o.env ?? {})) env.push({ name, value });
  return env;
}

/** The `membench` arguments of a shard pod. */
function shardArgs(o: K8sJobOptions): string[] {
  const index = `$(${K8S_INDEX_ENV})`;
  if (o.scenario !== undefined) return ["run", `${K8S_SCENARIO_DIR}/${o.scenario.fileName}`];
  return [
    "bench",
    ...(o.target !== undefined ? ["-u", "$(MEMBENCH_TARGET)"] : []),
    ...(o.bench ?? []),
    ...(o.seed !== undefined ? ["--seed", String(o.seed)] : []),
    "--shard",
    `${index}/${o.shards}`,
    ...(o.startAt !== undefined ? ["--start-at", o.startAt] : []),
    ...(o.results === "volume" ? ["--json", k8sResultFile(o.name, index)] : ["--json", "-", "-q"]),
  ];
}

function resources(o: K8sJobOptions): Record<string, unknown> {
  const memory = o.memory ?? "512Mi";
  return {
    requests: { cpu: o.cpu ?? "1", memory },
    limits: {
      ...(o.cpuLimit !== undefined ? { cpu: o.cpuLimit } : {}),
      memory: o.memoryLimit ?? memory,
    },
  };
}

function affinity(o: K8sJobOptions): Record<string, unknown> | undefined {
  const spread = o.spread ?? "preferred";
  if (spread === "none") return undefined;
  const term = {
    labelSelector: {
      matchLabels: {
        "app.kubernetes.io/name": "membench",
        "app.kubernetes.io/instance": o.name,
        "app.kubernetes.io/component": "shard",
      },
    },
    topologyKey: "kubernetes.io/hostname",
  };
  return {
    podAntiAffinity: spread === "required"
      ? { requiredDuringSchedulingIgnoredDuringExecution: [term] }
      : {
        preferredDuringSchedulingIgnoredDuringExecution: [{ weight: 100, podAffinityTerm: term }],
      },
  };
}

function podSpec(
  o: K8sJobOptions,
  container: Record<string, unknown>,
  volumes: unknown[],
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    restartPolicy: "Never",
    ...extra,
    ...(o.serviceAccount !== undefined ? { serviceAccountName: o.serviceAccount } : {}),
    ...(o.nodeSelector !== undefined && Object.keys(o.nodeSelector).length > 0
      ? { nodeSelector: { ...o.nodeSelector } }
      : {}),
    containers: [container],
    ...(volumes.length > 0 ? { volumes } : {}),
  };
}

/**
 * The manifests of a sharded run, in the order to apply them: the ConfigMap (scenario), the
 * PersistentVolumeClaim (results on a new volume), the Indexed Job, and the suspended collect Job
 * (results on a volume; resume it when the run is complete). Throws `invalid_argument` naming
 * every problem of the options.
 */
export function k8sJobManifests(options: K8sJobOptions): K8sObject[] {
  const problems = k8sJobProblems(options);
  if (problems.length > 0) {
    throw new MembenchError("invalid_argument", problems.join("\n"), {
      hint: "membench k8s job --help",
    });
  }
  const o: K8sJobOptions = { ...options, results: options.results ?? "logs" };
  const out: K8sObject[] = [];
  const image = o.image ?? K8S_DEFAULT_IMAGE;
  const imagePullPolicy = o.imagePullPolicy ?? "IfNotPresent";
  const volumes: unknown[] = [];
  const mounts: unknown[] = [];
  if (o.scenario !== undefined) {
    const cm = `${o.name}-scenario`;
    out.push({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: meta(o, cm, "scenario"),
      data: { [o.scenario.fileName]: o.scenario.source },
    });
    volumes.push({ name: "scenario", configMap: { name: cm } });
    // subPath: the file itself, not the ConfigMap's ..data symlinks, so that `../mod.ts` from the
    // scenario is the app's.
    mounts.push({
      name: "scenario",
      mountPath: `${K8S_SCENARIO_DIR}/${o.scenario.fileName}`,
      subPath: o.scenario.fileName,
      readOnly: true,
    });
  }
  if (o.results === "volume") {
    if (o.volumeClaim === undefined) {
      out.push({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: meta(o, claimName(o), "results"),
        spec: {
          accessModes: ["ReadWriteMany"],
          resources: { requests: { storage: o.volumeSize ?? "1Gi" } },
          ...(o.storageClass !== undefined ? { storageClassName: o.storageClass } : {}),
        },
      });
    }
    volumes.push({ name: "results", persistentVolumeClaim: { claimName: claimName(o) } });
    mounts.push({ name: "results", mountPath: K8S_RESULTS_DIR });
  }
  const shardMeta = meta(o, o.name, "shard");
  out.push({
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: shardMeta,
    spec: {
      completionMode: "Indexed",
      completions: o.shards,
      parallelism: o.shards,
      // A failed shard is retried on its own (at most `retries` times) while the others run on;
      // the merge then names what is missing.
      backoffLimitPerIndex: o.retries ?? 0,
      podFailurePolicy: {
        rules: [
          // Bad flags (2), a threshold that failed (4), bad input (5): a retry would not help.
          { action: "FailIndex", onExitCodes: { operator: "In", values: [2, 4, 5] } },
          // A pod evicted or preempted is not the shard's fault: run it again, uncounted.
          { action: "Ignore", onPodConditions: [{ type: "DisruptionTarget", status: "True" }] },
        ],
      },
      ttlSecondsAfterFinished: o.ttlSeconds ?? 86_400,
      ...(o.deadlineSeconds !== undefined ? { activeDeadlineSeconds: o.deadlineSeconds } : {}),
      template: {
        metadata: { labels: shardMeta.labels },
        spec: podSpec(
          o,
          {
            name: "membench",
            image,
            imagePullPolicy,
            command: ["membench"],
            args: shardArgs(o),
            env: shardEnv(o),
            resources: resources(o),
            ...(mounts.length > 0 ? { volumeMounts: mounts } : {}),
          },
          volumes,
          defined({ affinity: affinity(o) }),
        ),
      },
    },
  });
  // A bench's results are merged by `membench merge`; a scenario's stay in their folders.
  if (o.results === "volume" && o.bench !== undefined) {
    const files = Array.from({ length: o.shards }, (_, i) => k8sResultFile(o.name, i));
    const collectMeta = meta(o, `${o.name}-collect`, "collect");
    out.push({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        ...collectMeta,
        annotations: {
          "membench.dev/resume-when": `job/${o.name} is complete`,
        },
      },
      spec: {
        // Resumed by `kubectl patch` once the shards are done (see k8sCollectCommands).
        suspend: true,
        completions: 1,
        parallelism: 1,
        backoffLimit: 0,
        ttlSecondsAfterFinished: o.ttlSeconds ?? 86_400,
        template: {
          metadata: { labels: collectMeta.labels },
          spec: podSpec(o, {
            name: "merge",
            image,
            imagePullPolicy,
            command: ["membench"],
            args: [
              "merge",
              "--shards",
              String(o.shards),
              "--json",
              `${K8S_RESULTS_DIR}/${o.name}-merged.json`,
              ...files,
            ],
            resources: { requests: { cpu: "100m", memory: "256Mi" }, limits: { memory: "1Gi" } },
            volumeMounts: [{ name: "results", mountPath: K8S_RESULTS_DIR }],
          }, [{ name: "results", persistentVolumeClaim: { claimName: claimName(o) } }]),
        },
      },
    });
  }
  return out;
}

function defined(o: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));
}

/** Single-quotes a word for a POSIX shell when it needs it. */
function sh(s: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(s) ? s : `'${s.replaceAll("'", `'\\''`)}'`;
}

/**
 * The kubectl commands that run the manifests and collect the merged result, in order (one
 * command a line, for a terminal). `file` is where the manifests were written.
 */
export function k8sCollectCommands(options: K8sJobOptions, file = "job.yaml"): string[] {
  const ns = options.namespace !== undefined ? ` -n ${options.namespace}` : "";
  const name = options.name;
  const wait = `kubectl wait${ns} --for=condition=complete --timeout=24h job/${name}`;
  if (options.scenario !== undefined) {
    return [
      `kubectl apply${ns} -f ${sh(file)}`,
      wait,
      (options.results ?? "logs") === "logs"
        ? `kubectl logs${ns} -l job-name=${name} --prefix --tail=-1`
        : `# each shard's summary is on the volume, in ${K8S_RESULTS_DIR}/${name}/<index>/`,
    ];
  }
  if ((options.results ?? "logs") === "logs") {
    const merge = `membench merge --shards ${options.shards} -`;
    return [
      `kubectl apply${ns} -f ${sh(file)}`,
      wait,
      (options.retries ?? 0) > 0
        // A retried shard's failed attempt printed a result too: read the pods that succeeded.
        ? `kubectl get pods${ns} -l job-name=${name} --field-selector=status.phase=Succeeded ` +
          `-o name | xargs -n1 kubectl logs${ns} | ${merge}`
        // --tail=-1: with a selector kubectl shows only the last 10 lines of each pod otherwise.
        : `kubectl logs${ns} -l job-name=${name} --prefix=false --tail=-1 | ${merge}`,
    ];
  }
  return [
    `kubectl apply${ns} -f ${sh(file)}`,
    wait,
    `kubectl patch${ns} job/${name}-collect --type=merge -p '{"spec":{"suspend":false}}'`,
    `kubectl wait${ns} --for=condition=complete --timeout=10m job/${name}-collect`,
    `kubectl logs${ns} job/${name}-collect`,
  ];
}
