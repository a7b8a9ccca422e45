/**
 * `membench k8s`: the manifests pass the Kubernetes API schema (kubernetes-models' validators,
 * generated from the Kubernetes OpenAPI spec, plus a strict walk of its declared fields as
 * `kubectl apply --validate=strict` does), read back the same through an independent YAML parser
 * (the npm `yaml` package), stay consistent when the shard count changes, and the pod command
 * they hold really runs: each shard's command, arguments and environment are taken from the Job
 * and run here against a local redis-server, whose own counters say what was sent.
 */
import assert from "node:assert/strict";
import fc from "fast-check";
import { parseAllDocuments } from "yaml";
import { Job } from "kubernetes-models/batch/v1";
import { ConfigMap, PersistentVolumeClaim } from "kubernetes-models/v1";
import {
  K8S_DENO_PERMISSIONS,
  K8S_RESULTS_DIR,
  k8sCollectCommands,
  k8sJobManifests,
  type K8sJobOptions,
  type K8sObject,
  startLocalServer,
  toYaml,
} from "../mod.ts";
import { K8S_SUBCOMMANDS } from "../cli/k8s.ts";
import { flagName, type FlagSet } from "../cli/flags.ts";
import { commandStats, loadTest, runCli, statsDelta } from "./helpers.ts";

const MODELS = new URL("../node_modules/kubernetes-models/", import.meta.url).pathname;
const APIMACHINERY = new URL("../node_modules/@kubernetes-models/apimachinery/", import.meta.url)
  .pathname;
const MAIN = new URL("../cli/main.ts", import.meta.url).pathname;

// --- A strict field check over kubernetes-models' declarations -------------------------------
// The ajv validators check types, enums, formats and required fields but accept unknown fields
// (the OpenAPI schemas do not close objects); the API server rejects them (strict field
// validation, the default of kubectl since 1.27). The .d.ts files declare every field.

const declCache = new Map<string, { fields: Map<string, string>; imports: Map<string, string> }>();

function declarations(file: string) {
  const hit = declCache.get(file);
  if (hit) return hit;
  const src = Deno.readTextFileSync(file);
  const imports = new Map<string, string>();
  for (const m of src.matchAll(/^import \{ ([^}]+) \} from "([^"]+)";$/gm)) {
    const spec = m[2]!;
    const path = spec.startsWith(".")
      ? new URL(spec.replace(/\.js$/, ".d.ts"), "file://" + file).pathname
      : spec.startsWith("@kubernetes-models/apimachinery/")
      ? APIMACHINERY + spec.slice("@kubernetes-models/apimachinery/".length) + ".d.ts"
      : undefined;
    if (path === undefined) continue;
    for (const name of m[1]!.split(",").map((s) => s.trim())) imports.set(name, path);
  }
  const fields = new Map<string, string>();
  const body = /^export interface \w+(?: extends [\w, ]+)? \{\n([\s\S]*?)^\}$/m.exec(src)?.[1];
  if (body !== undefined) {
    // Drop the doc comments, then read `"name"?: Type;` at the interface's indentation; a type
    // may span lines (`{ [key: string]: X; }`).
    const lines = body.replace(/\/\*\*[\s\S]*?\*\//g, "").split("\n");
    for (let i = 0; i < lines.length; i++) {
      const m = /^ {4}"([^"]+)"\??: (.*)$/.exec(lines[i]!);
      if (!m) continue;
      let type = m[2]!;
      while (
        !type.endsWith(";") || (type.match(/\{/g)?.length ?? 0) > (type.match(/\}/g)?.length ?? 0)
      ) {
        type += " " + lines[++i]!.trim();
      }
      fields.set(m[1]!, type.replace(/;$/, "").trim());
    }
  }
  const d = { fields, imports };
  declCache.set(file, d);
  return d;
}

function hasInterface(file: string): boolean {
  return declarations(file).fields.size > 0;
}

function checkValue(v: unknown, type: string, file: string, at: string, out: string[]): void {
  const arr = /^Array<(.+)>$/.exec(type);
  if (arr) {
    if (Array.isArray(v)) v.forEach((x, i) => checkValue(x, arr[1]!, file, `${at}[${i}]`, out));
    return;
  }
  const map = /^\{ \[key: string\]: (.+); \}$/.exec(type);
  if (map) {
    if (v && typeof v === "object") {
      for (const [k, x] of Object.entries(v)) checkValue(x, map[1]!, file, `${at}.${k}`, out);
    }
    return;
  }
  const ref = declarations(file).imports.get(type);
  if (ref !== undefined && hasInterface(ref)) checkObject(v, ref, at, out);
}

/** The fields of `v` (and everything under it) that the declarations in `file` do not know. */
function checkObject(v: unknown, file: string, at: string, out: string[]): void {
  if (!v || typeof v !== "object" || Array.isArray(v)) return;
  const { fields } = declarations(file);
  for (const [k, x] of Object.entries(v)) {
    const type = fields.get(k);
    if (type === undefined) out.push(`${at}.${k}`);
    else checkValue(x, type, file, `${at}.${k}`, out);
  }
}

const KINDS: Record<string, { validate(o: K8sObject): void; decl: string }> = {
  Job: { validate: (o) => new Job(o as never).validate(), decl: `${MODELS}batch/v1/Job.d.ts` },
  ConfigMap: {
    validate: (o) => new ConfigMap(o as never).validate(),
    decl: `${MODELS}v1/ConfigMap.d.ts`,
  },
  PersistentVolumeClaim: {
    validate: (o) => new PersistentVolumeClaim(o as never).validate(),
    decl: `${MODELS}v1/PersistentVolumeClaim.d.ts`,
  },
};

/** Validates one object: the schema (throws) and the strict fields (returns the unknown ones). */
function validate(o: K8sObject): string[] {
  const kind = KINDS[o.kind];
  assert.ok(kind, `unexpected kind ${o.kind}`);
  kind.validate(o);
  const unknown: string[] = [];
  checkObject(o, kind.decl, o.kind, unknown);
  return unknown;
}

/** YAML documents read by the npm `yaml` package (no error allowed), as plain data. */
function readYaml(text: string, version: "1.1" | "1.2" = "1.2"): unknown[] {
  const docs = parseAllDocuments(text, { version }) as unknown as Array<
    { errors: unknown[]; toJS(): unknown }
  >;
  assert.deepEqual(docs.flatMap((d) => [...d.errors]), []);
  return docs.map((d) => d.toJS());
}

// --- Helpers over the manifests ----------------------------------------------------------------

// Manifests are read as loosely typed JSON, as kubectl reads them.
// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;

function jobs(objects: K8sObject[]): Obj[] {
  return objects.filter((o) => o.kind === "Job") as Obj[];
}

function shardJob(objects: K8sObject[]): Obj {
  const j = jobs(objects).find((j) => j.metadata.labels["app.kubernetes.io/component"] === "shard");
  assert.ok(j, "no shard Job");
  return j;
}

const BASE: K8sJobOptions = {
  name: "load",
  shards: 4,
  seed: 24,
  bench: ["-t", "set,get", "-n", "100000", "-c", "64", "-P", "8"],
};

function variants(shards: number): Array<[string, K8sJobOptions]> {
  const everything: Partial<K8sJobOptions> = {
    namespace: "bench",
    image: "registry.example.com/membench:0.1.0",
    imagePullPolicy: "Always",
    target: "redis-master.bench.svc:6379",
    passwordSecret: { name: "redis", key: "password" },
    startAt: "2026-11-30T01:00:00Z",
    cpu: "2",
    memory: "1Gi",
    cpuLimit: "2500m",
    memoryLimit: "2Gi",
    spread: "required",
    retries: 2,
    ttlSeconds: 600,
    deadlineSeconds: 3600,
    nodeSelector: { "node.kubernetes.io/instance-type": "c6i.2xlarge" },
    serviceAccount: "membench",
    env: { TZ: "UTC" },
  };
  const scenario = {
    fileName: "mix.ts",
    source:
      'import { scenario } from "../mod.ts";\n\n  // indented: "quotes", #hash, key: value\n' +
      "await scenario('mix', {}, async (run) => {\n\tawait run.bench({ tests: ['get'] });\n});\n",
  };
  return [
    ["bench, logs", { ...BASE, shards }],
    ["bench, volume", { ...BASE, shards, results: "volume" }],
    ["bench, volume on a claim, every option", {
      ...BASE,
      ...everything,
      shards,
      results: "volume",
      volumeClaim: "shared-results",
    }],
    ["bench, new volume in a class", {
      ...BASE,
      shards,
      results: "volume",
      volumeSize: "5Gi",
      storageClass: "nfs-client",
      spread: "none",
    }],
    ["scenario, logs", { name: "mix", shards, scenario }],
    ["scenario, volume, every option", {
      name: "mix",
      ...everything,
      shards,
      scenario,
      results: "volume",
    }],
  ];
}

// --- Tests -------------------------------------------------------------------------------------

Deno.test("k8s: every manifest passes the Kubernetes schema, with no unknown field, for 1 to 100 shards and each mode", () => {
  let checked = 0;
  for (const n of [1, 2, 3, 8, 100]) {
    for (const [what, options] of variants(n)) {
      const objects = k8sJobManifests(options);
      for (const o of objects) {
        assert.deepEqual(validate(o), [], `${what}, ${n} shards: unknown fields in ${o.kind}`);
        checked++;
      }
      const kinds = objects.map((o) => o.kind);
      const volume = options.results === "volume";
      assert.deepEqual(kinds, [
        ...(options.scenario ? ["ConfigMap"] : []),
        ...(volume && !options.volumeClaim ? ["PersistentVolumeClaim"] : []),
        "Job",
        ...(volume && !options.scenario ? ["Job"] : []),
      ], what);
    }
  }
  assert.ok(checked >= 60, `only ${checked} objects checked`);
});

Deno.test("k8s: the validators are live: a broken manifest is rejected", () => {
  const objects = k8sJobManifests(BASE);
  const job = shardJob(objects);
  // A string where the schema wants an integer.
  const stringParallelism = structuredClone(job);
  stringParallelism.spec.parallelism = "4";
  assert.throws(() => validate(stringParallelism as K8sObject), /parallelism must be integer/);
  // A value outside an enum.
  const badMode = structuredClone(job);
  badMode.spec.completionMode = "Indexd";
  assert.throws(() => validate(badMode as K8sObject), /completionMode/);
  // A required field missing: a container without a name.
  const noName = structuredClone(job);
  delete noName.spec.template.spec.containers[0].name;
  assert.throws(() => validate(noName as K8sObject), /name/);
  // A quantity that is not one.
  const badCpu = structuredClone(job);
  badCpu.spec.template.spec.containers[0].resources.requests.cpu = "two";
  assert.throws(() => validate(badCpu as K8sObject), /quantity/);
  // A misspelt field, which only the strict walk sees (the API server would refuse it).
  const typo = structuredClone(job);
  typo.spec.template.spec.affinity.podAntiAfinity = typo.spec.template.spec.affinity
    .podAntiAffinity;
  delete typo.spec.template.spec.affinity.podAntiAffinity;
  assert.deepEqual(validate(typo as K8sObject), ["Job.spec.template.spec.affinity.podAntiAfinity"]);
  const deepTypo = structuredClone(job);
  deepTypo.spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldpath = "x";
  assert.deepEqual(validate(deepTypo as K8sObject), [
    "Job.spec.template.spec.containers[0].env[0].valueFrom.fieldRef.fieldpath",
  ]);
});

Deno.test("k8s: changing the shard count changes parallelism, completions, MEMBENCH_SHARDS and the --shard flag together", () => {
  for (const n of [1, 2, 5, 16, 1000]) {
    for (const [what, options] of variants(n)) {
      const objects = k8sJobManifests(options);
      const job = shardJob(objects);
      const spec = job.spec;
      const c = spec.template.spec.containers[0];
      const env = new Map<string, Obj>(c.env.map((e: Obj) => [e.name, e]));
      assert.equal(spec.completionMode, "Indexed", what);
      assert.equal(spec.parallelism, n, what);
      assert.equal(spec.completions, n, what);
      assert.equal(env.get("MEMBENCH_SHARDS")?.value, String(n), what);
      assert.equal(env.get("MEMBENCH_SHARD")?.value, `$(MEMBENCH_SHARD_INDEX)/${n}`, what);
      assert.equal(
        env.get("MEMBENCH_SHARD_INDEX")?.valueFrom.fieldRef.fieldPath,
        "metadata.annotations['batch.kubernetes.io/job-completion-index']",
      );
      assert.equal(spec.template.spec.restartPolicy, "Never");
      if (options.bench) {
        const at = c.args.indexOf("--shard");
        assert.ok(at > 0, what);
        assert.equal(c.args[at + 1], `$(MEMBENCH_SHARD_INDEX)/${n}`, what);
        assert.equal(c.args.filter((a: string) => a === "--shard").length, 1);
      } else {
        assert.deepEqual(c.args, ["run", `/membench/scenario/${options.scenario!.fileName}`]);
      }
      // The printed steps merge N shards of this Job.
      const steps = k8sCollectCommands(options).join("\n");
      if (options.bench && options.results !== "volume") {
        assert.match(steps, new RegExp(`membench merge --shards ${n} -$`));
      }
      assert.match(steps, new RegExp(`job/${options.name}\\b`));
      if ((options.retries ?? 0) > 0 && options.results !== "volume") {
        assert.match(steps, /--field-selector=status\.phase=Succeeded/);
      }
      const collect = jobs(objects).find((j) => j.metadata.name === `${options.name}-collect`);
      if (collect) {
        const args: string[] = collect.spec.template.spec.containers[0].args;
        assert.equal(args[args.indexOf("--shards") + 1], String(n));
        const files = args.filter((a) => /^\/results\/.*-\d+\.json$/.test(a));
        assert.deepEqual(files, Array.from({ length: n }, (_, i) => `/results/load-${i}.json`));
        assert.equal(collect.spec.suspend, true);
      }
    }
  }
  // With retries, a shard's failed attempt left a result in its log: only succeeded pods are read.
  assert.match(
    k8sCollectCommands({ ...BASE, retries: 1 }).at(-1)!,
    /^kubectl get pods -l job-name=load --field-selector=status\.phase=Succeeded -o name \| xargs -n1 kubectl logs \| membench merge --shards 4 -$/,
  );
  // Everything else stays the same: only those fields differ between 3 and 4 shards.
  const diff = (a: unknown, b: unknown, at: string, out: string[]) => {
    if (a && b && typeof a === "object" && typeof b === "object") {
      const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
      for (const k of keys) diff((a as Obj)[k], (b as Obj)[k], `${at}.${k}`, out);
    } else if (a !== b) out.push(`${at}: ${a} -> ${b}`);
  };
  const out: string[] = [];
  diff(shardJob(k8sJobManifests({ ...BASE, shards: 3 })), shardJob(k8sJobManifests(BASE)), "", out);
  assert.deepEqual(out, [
    ".spec.completions: 3 -> 4",
    ".spec.parallelism: 3 -> 4",
    ".spec.template.spec.containers.0.args.12: $(MEMBENCH_SHARD_INDEX)/3 -> $(MEMBENCH_SHARD_INDEX)/4",
    ".spec.template.spec.containers.0.env.1.value: 3 -> 4",
    ".spec.template.spec.containers.0.env.2.value: $(MEMBENCH_SHARD_INDEX)/3 -> $(MEMBENCH_SHARD_INDEX)/4",
  ]);
});

Deno.test("k8s: pods spread over nodes, resources from the options, passwords only as Secret references", () => {
  const [, , [, everything]] = variants(4) as [unknown, unknown, [string, K8sJobOptions]];
  const objects = k8sJobManifests(everything);
  const pod = shardJob(objects).spec.template.spec;
  const term = pod.affinity.podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution[0];
  assert.equal(term.topologyKey, "kubernetes.io/hostname");
  // The anti-affinity selects the pods of this Job: the template's labels match it.
  for (const [k, v] of Object.entries(term.labelSelector.matchLabels)) {
    assert.equal(shardJob(objects).spec.template.metadata.labels[k], v);
  }
  const c = pod.containers[0];
  assert.deepEqual(c.resources, {
    requests: { cpu: "2", memory: "1Gi" },
    limits: { cpu: "2500m", memory: "2Gi" },
  });
  const auth = c.env.find((e: Obj) => e.name === "REDISCLI_AUTH");
  assert.deepEqual(auth.valueFrom, { secretKeyRef: { name: "redis", key: "password" } });
  // The default spreads by preference.
  const preferred = shardJob(k8sJobManifests(BASE)).spec.template.spec.affinity.podAntiAffinity;
  assert.equal(
    preferred.preferredDuringSchedulingIgnoredDuringExecution[0].podAffinityTerm.topologyKey,
    "kubernetes.io/hostname",
  );
  assert.equal(
    shardJob(k8sJobManifests({ ...BASE, spread: "none" })).spec.template.spec.affinity,
    undefined,
  );
  // A password never goes into a manifest: in the bench arguments or in a target URI.
  for (
    const bench of [
      ["-a", "s3cret"],
      ["--password=s3cret"],
      ["-u", "redis://user:s3cret@redis:6379"],
      ["-u", "rediss://:s3cret@redis:6379"],
      ["--uri=redis://s3cret@redis:6379"],
    ]
  ) {
    assert.throws(
      () => k8sJobManifests({ ...BASE, bench }),
      (e: Error) => /password/.test(e.message) && !e.message.includes("s3cret"),
    );
  }
  assert.throws(
    () => k8sJobManifests({ ...BASE, target: "redis://default:s3cret@redis:6379" }),
    (e: Error) => /password-secret/.test(e.message) && !e.message.includes("s3cret"),
  );
  assert.throws(
    () => k8sJobManifests({ ...BASE, target: "redis:6379", bench: ["-h", "other", "-t", "get"] }),
    /target and the bench '-h'/,
  );
  // Flags the Job sets itself, and every other problem, reported at once.
  assert.throws(
    () =>
      k8sJobManifests({
        ...BASE,
        name: "Load_1",
        shards: 0,
        cpu: "lots",
        bench: ["--shard", "0/2", "--json", "x.json"],
      }),
    (e: Error) =>
      ["Job name", "shards", "CPU request", "--shard", "--json"].every((w) =>
        e.message.includes(w)
      ),
  );
});

Deno.test("k8s: the YAML reads back (npm yaml) as the objects, for the manifests and for any JSON data", () => {
  for (const [what, options] of [...variants(3), ...variants(64)]) {
    const objects = k8sJobManifests(options);
    assert.deepEqual(readYaml(toYaml(objects)), objects, what);
    // YAML 1.1 readers (older tooling) must not see booleans or numbers either.
    assert.deepEqual(readYaml(toYaml(objects), "1.1"), objects, what);
  }
  const tricky = [
    "yes",
    "No",
    "on",
    "OFF",
    "y",
    "null",
    "~",
    "true",
    "0.1.0",
    "1e3",
    ".5",
    ".inf",
    "-",
    "- a",
    "0x1F",
    "0o17",
    "1_000",
    "12:30",
    "a: b",
    "a #b",
    "#c",
    "*ref",
    "&anchor",
    "!tag",
    "%dir",
    "@at",
    "`tick",
    "'",
    '"',
    "{",
    "[",
    "?",
    "|",
    ">",
    ",",
    " lead",
    "trail ",
    "",
    "\t",
    "a\nb",
    "\nfirst empty",
    "  indented\nlines",
    "end\n",
    "ends\n\n\n",
    "\n",
    "\n\n",
    "\r\n",
    "tab\tin",
    "\u2028",
    "\u0085",
    "\x7f",
    "\x00",
    "é ü 漢字 🎉",
    "$(MEMBENCH_SHARD_INDEX)/4",
    "metadata.annotations['batch.kubernetes.io/job-completion-index']",
    "---",
    "...",
    "--- a",
    "a\n---\nb",
    "a\n...\nb",
    "<<",
  ];
  const value = { list: tricky, map: Object.fromEntries(tricky.map((s, i) => [s, [i, s]])) };
  assert.deepEqual(readYaml(toYaml([value, value.map])), [value, value.map]);
  assert.deepEqual(readYaml(toYaml([value, value.map]), "1.1"), [value, value.map]);
  fc.assert(
    fc.property(fc.array(fc.jsonValue(), { minLength: 1, maxLength: 3 }), (values) => {
      // JSON has no -0; YAML keeps it, and JSON.parse(JSON.stringify()) gives what kubectl sees.
      const docs = values.map((v) => JSON.parse(JSON.stringify(v)));
      assert.deepEqual(readYaml(toYaml(docs)), docs);
    }),
    { numRuns: 500, seed: 24 },
  );
  assert.throws(() => toYaml([{ a: NaN }]), /document 1\.a as YAML: NaN/);
});

// --- The command line --------------------------------------------------------------------------

Deno.test("k8s: 'membench k8s job' writes what the library gives, reports every problem at once, never shows a password", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const out = `${dir}/job.yaml`;
    const before = Date.now();
    const r = await runCli([
      "k8s",
      "job",
      "--name",
      "load",
      "--shards",
      "3",
      "--target",
      "redis:6379",
      "--password-secret",
      "redis/password",
      "--start-in",
      "90s",
      "--results",
      "volume",
      "--cpu",
      "2",
      "--env",
      "MEMBENCH_SEED=5",
      "-o",
      out,
      "--",
      "-t",
      "get",
      "-n",
      "1000",
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, "");
    const objects = readYaml(await Deno.readTextFile(out)) as K8sObject[];
    for (const o of objects) assert.deepEqual(validate(o), []);
    const c = shardJob(objects).spec.template.spec.containers[0];
    const startAt = c.args[c.args.indexOf("--start-at") + 1];
    const start = Date.parse(startAt);
    assert.ok(start >= before + 90_000 && start <= Date.now() + 91_000, startAt);
    assert.match(startAt, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
    // A seed was chosen (a random one) and given to every shard.
    const seed = Number(c.args[c.args.indexOf("--seed") + 1]);
    assert.ok(Number.isInteger(seed) && seed >= 0, String(seed));
    assert.match(r.stderr, new RegExp(`seed ${seed}`));
    assert.deepEqual(
      objects,
      k8sJobManifests({
        seed,
        name: "load",
        shards: 3,
        target: "redis:6379",
        passwordSecret: { name: "redis", key: "password" },
        startAt,
        results: "volume",
        cpu: "2",
        env: { MEMBENCH_SEED: "5" },
        bench: ["-t", "get", "-n", "1000"],
      }),
    );
    // The next steps, on stderr.
    assert.match(r.stderr, /kubectl apply -f .*job\.yaml/);
    assert.match(r.stderr, /kubectl patch job\/load-collect/);

    // JSON on stdout: one v1 List.
    const j = await runCli([
      "k8s",
      "job",
      "--name",
      "x",
      "--shards",
      "2",
      "--format",
      "json",
      "--",
      "-t",
      "ping",
    ]);
    assert.equal(j.code, 0, j.stderr);
    const list = JSON.parse(j.stdout);
    assert.equal(list.kind, "List");
    assert.equal(list.items[0].spec.parallelism, 2);
    assert.match(
      j.stderr,
      /kubectl logs -l job-name=x --prefix=false --tail=-1 \| membench merge --shards 2 -/,
    );

    // A scenario file goes into the ConfigMap as it is.
    const file = `${dir}/my-mix.ts`;
    const source = 'import { scenario } from "../mod.ts";\n// a scenario\n';
    await Deno.writeTextFile(file, source);
    const s = await runCli(["k8s", "job", "--name", "mix", "--shards", "2", "--scenario", file]);
    assert.equal(s.code, 0, s.stderr);
    const sdocs = readYaml(s.stdout) as Obj[];
    assert.deepEqual(sdocs[0]!.data, { "my-mix.ts": source });

    // Every problem at once, exit 2, the password never shown.
    const bad = await runCli([
      "k8s",
      "job",
      "--name",
      "Bad_Name",
      "--shards",
      "0",
      "--cpu",
      "lots",
      "--start-at",
      "tomorrow",
      "--",
      "-a",
      "hunter2",
      "-t",
      "get",
    ]);
    assert.equal(bad.code, 2);
    for (const w of ["--shards", "Job name", "CPU request", "start time", "password-secret"]) {
      assert.ok(bad.stderr.includes(w), `${w} not in: ${bad.stderr}`);
    }
    assert.ok(!bad.stderr.includes("hunter2"));
    const none = await runCli(["k8s", "job", "--name", "x", "--shards", "2"]);
    assert.equal(none.code, 2);
    assert.match(none.stderr, /Nothing to run/);
    const missing = await runCli([
      "k8s",
      "job",
      "--name",
      "x",
      "--shards",
      "2",
      "--scenario",
      `${dir}/nope.ts`,
    ]);
    assert.equal(missing.code, 5, missing.stderr);
    const both = await runCli([
      "k8s",
      "job",
      "--name",
      "x",
      "--shards",
      "2",
      "--start-at",
      "2026-11-30T01:00:00Z",
      "--start-in",
      "1m",
      "--",
      "-t",
      "get",
    ]);
    assert.equal(both.code, 2);
    assert.match(both.stderr, /start-at' and '--start-in/);
    const sub = await runCli(["k8s", "jbo"]);
    assert.equal(sub.code, 2);
    assert.match(sub.stderr, /expected job or dockerfile/);

    // Help lists every flag of the spec; the Dockerfile builds from the official Deno image.
    for (const spec of K8S_SUBCOMMANDS) {
      const help = await runCli([...spec.name.split(" "), "--help"]);
      assert.equal(help.code, 0, help.stderr);
      assert.ok(help.stdout.startsWith(`membench ${spec.name}: `), help.stdout);
      for (const [key, f] of Object.entries(spec.flags as FlagSet)) {
        const value = f.spec.value !== undefined ? ` ${f.spec.value}` : "";
        const label = `${f.spec.short !== undefined ? `-${f.spec.short}, ` : ""}--${
          flagName(key, f)
        }${value}`;
        assert.ok(help.stdout.includes(label), `${spec.name} --help lacks ${label}`);
      }
    }
    const d = await runCli(["k8s", "dockerfile"]);
    assert.equal(d.code, 0, d.stderr);
    assert.match(
      d.stdout,
      new RegExp(`^FROM denoland/deno:${Deno.version.deno.replaceAll(".", "\\.")}$`, "m"),
    );
    assert.match(d.stdout, /deno cache cli\/main\.ts/);
    for (const p of K8S_DENO_PERMISSIONS) assert.ok(d.stdout.includes(p));
    const top = await runCli(["--help"]);
    assert.match(top.stdout, /^ {2}k8s +Kubernetes/m);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("k8s: the Dockerfile copies every module membench loads, and its membench command runs", async () => {
  const root = new URL("../", import.meta.url).pathname;
  const d = await runCli(["k8s", "dockerfile"]);
  assert.equal(d.code, 0, d.stderr);
  const dockerfile = d.stdout;
  // What the COPY lines bring into the image (files, or folders with everything under them).
  const copied = [...dockerfile.matchAll(/^COPY (.+) \S+$/gm)].flatMap((m) => m[1]!.split(" "));
  const inImage = (rel: string) => copied.some((c) => rel === c || rel.startsWith(`${c}/`));
  // Every local module of the CLI and of mod.ts (which `membench run` maps "membench" to), and
  // the files read next to them at run time.
  const local: string[] = [];
  for (const entry of ["cli/main.ts", "mod.ts"]) {
    const info = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", entry],
      cwd: root,
      stdout: "piped",
    }).output();
    assert.equal(info.code, 0);
    const graph = JSON.parse(new TextDecoder().decode(info.stdout));
    local.push(
      ...(graph.modules as Array<{ specifier: string }>)
        .map((m) => m.specifier)
        .filter((s) => s.startsWith(`file://${root}`) && !s.includes("/node_modules/"))
        .map((s) => s.slice(`file://${root}`.length)),
    );
  }
  assert.ok(local.length > 100, `only ${local.length} modules`);
  const missing = [
    ...local,
    "deno.json",
    "package.json",
    "package-lock.json",
    "lib/bench/_worker.ts",
  ]
    .filter((f) => !inImage(f));
  assert.deepEqual(missing, []);
  // The membench command the RUN line writes, pointed at this checkout instead of /membench: it
  // passes its arguments on whole (a name with a space stays one argument).
  const printf = /^RUN (printf .+) > \/usr\/local\/bin\/membench/m.exec(dockerfile)?.[1];
  assert.ok(printf, dockerfile);
  const dir = await Deno.makeTempDir();
  try {
    const script = `${dir}/membench`;
    const made = await new Deno.Command("sh", {
      args: ["-c", `${printf.replaceAll("/membench/", root)} > ${script}`],
    }).output();
    assert.equal(made.code, 0);
    await Deno.chmod(script, 0o755);
    const env = { PATH: `${Deno.execPath().replace(/\/[^/]+$/, "")}:/usr/bin:/bin` };
    const run = async (...args: string[]) => {
      const o = await new Deno.Command(script, { args, env, stdout: "piped", stderr: "piped" })
        .output();
      const td = new TextDecoder();
      return { code: o.code, stdout: td.decode(o.stdout), stderr: td.decode(o.stderr) };
    };
    const v = await run("version");
    assert.equal(v.code, 0, v.stderr);
    assert.equal(v.stdout.trim(), "0.1.0");
    const bad = await run("k8s", "job", "--name", "a b", "--shards", "1", "--", "-t", "get");
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /Job name "a b"/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

// --- The pod command, run here ----------------------------------------------------------------

/**
 * Kubernetes' `$(VAR)` expansion of command, args and env values (kubelet's expansion.Expand):
 * `$(NAME)` of a defined variable is replaced, `$$` is a literal `$`, anything else is kept.
 */
function expand(s: string, vars: Map<string, string>): string {
  return s.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m, name?: string) => {
    if (m === "$$") return "$";
    return vars.has(name!) ? vars.get(name!)! : m;
  });
}

/**
 * What the kubelet would run for pod `index` of a Job: the container's command and args with its
 * env (the downward API's annotation given as it would be, Secrets from `secrets`), with the
 * image's `membench` replaced by this repository's CLI and the volume mounts mapped to `mounts`.
 */
function podProcess(
  container: Obj,
  index: number,
  secrets: Record<string, Record<string, string>>,
  mounts: Record<string, string>,
): { args: string[]; env: Record<string, string> } {
  const vars = new Map<string, string>();
  vars.set("JOB_COMPLETION_INDEX", String(index));
  for (const e of container.env ?? []) {
    let value: string;
    if (e.valueFrom?.fieldRef) {
      assert.equal(
        e.valueFrom.fieldRef.fieldPath,
        "metadata.annotations['batch.kubernetes.io/job-completion-index']",
      );
      value = String(index);
    } else if (e.valueFrom?.secretKeyRef) {
      const { name, key } = e.valueFrom.secretKeyRef;
      value = secrets[name]![key]!;
    } else value = expand(e.value, vars); // env values see the variables defined before them
    vars.set(e.name, value);
  }
  const map = (s: string) => {
    for (const [from, to] of Object.entries(mounts)) {
      if (s.startsWith(from)) return to + s.slice(from.length);
    }
    return s;
  };
  const argv = [...container.command, ...container.args].map((a: string) => map(expand(a, vars)));
  assert.equal(argv[0], "membench");
  return {
    args: ["run", ...K8S_DENO_PERMISSIONS, MAIN, ...argv.slice(1)],
    // Paths in the environment (MEMBENCH_OUT_DIR) are under the same mounts.
    env: Object.fromEntries([...vars].map(([k, v]) => [k, map(v)])),
  };
}

// What the test sends itself, and bench's clock probes (TIME, for --start-at and per-second
// alignment).
const IGNORE = [
  "info",
  "auth",
  "hello",
  "client|setname",
  "select",
  "command",
  "command|docs",
  "time",
];

async function runPod(p: { args: string[]; env: Record<string, string> }, cwd?: string) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: p.args,
    env: p.env,
    ...(cwd !== undefined ? { cwd } : {}),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const td = new TextDecoder();
  return { code: out.code, stdout: td.decode(out.stdout), stderr: td.decode(out.stderr) };
}

loadTest(
  "k8s: each pod's command, run here against redis-server, does its shard; the logs merge into the whole run",
  async () => {
    await using srv = await startLocalServer("redis", { args: ["--requirepass", "pod-secret"] });
    const n = 2, requests = 3000;
    const objects = k8sJobManifests({
      name: "local",
      shards: n,
      target: srv.address,
      passwordSecret: { name: "redis", key: "password" },
      seed: 7,
      bench: ["-t", "set", "-n", String(requests), "-c", "4", "-r", "1000"],
    });
    const container = shardJob(objects).spec.template.spec.containers[0];
    const secrets = { redis: { password: "pod-secret" } };
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      const before = await commandStats(srv.address, "pod-secret");
      const r = await runPod(podProcess(container, i, secrets, {}));
      assert.equal(r.code, 0, r.stderr);
      const after = await commandStats(srv.address, "pod-secret");
      // stdout is the one NDJSON line `kubectl logs | membench merge -` reads.
      const out = r.stdout.trim().split("\n");
      assert.equal(out.length, 1, r.stdout);
      const result = JSON.parse(out[0]!);
      lines.push(out[0]!);
      // The server saw this shard's share of the requests, no more.
      assert.deepEqual(statsDelta(before, after, IGNORE), { set: requests / n }, `shard ${i}`);
      assert.equal(result.tests[0].requests, requests / n);
      assert.ok(!r.stdout.includes("pod-secret") && !r.stderr.includes("pod-secret"));
    }
    // `kubectl logs -l job-name=local --prefix=false | membench merge --shards 2 -`
    const merge = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", MAIN, "merge", "--shards", String(n), "--json", "-", "-q", "-"],
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const w = merge.stdin.getWriter();
    await w.write(new TextEncoder().encode(lines.join("\n") + "\n"));
    await w.close();
    const m = await merge.output();
    const td = new TextDecoder();
    assert.equal(m.code, 0, td.decode(m.stderr));
    const merged = JSON.parse(td.decode(m.stdout));
    assert.equal(merged.tests[0].name, "set");
    assert.equal(merged.tests[0].requests, requests);
    assert.match(td.decode(m.stderr), /2 of 2 shards merged/);
  },
);

loadTest(
  "k8s: with results on a volume, the pods start together at --start-at, each writes its file, and the collect Job's command merges them",
  async () => {
    await using srv = await startLocalServer("redis");
    const dir = await Deno.makeTempDir();
    try {
      const n = 3, requests = 1500;
      // Far enough ahead for three Deno processes to start and connect on a busy machine.
      const startMs = Math.ceil((Date.now() + 8000) / 1000) * 1000;
      const startAt = new Date(startMs).toISOString();
      const objects = k8sJobManifests({
        name: "vol",
        shards: n,
        results: "volume",
        startAt,
        bench: ["-u", srv.address, "-t", "incr", "-n", String(requests), "-c", "3", "--seed", "3"],
      });
      const container = shardJob(objects).spec.template.spec.containers[0];
      const before = await commandStats(srv.address);
      // The pods run side by side, as the Job's parallelism N has them.
      const pods = await Promise.all(
        Array.from(
          { length: n },
          (_, i) => runPod(podProcess(container, i, {}, { [K8S_RESULTS_DIR]: dir })),
        ),
      );
      for (const r of pods) assert.equal(r.code, 0, r.stderr);
      const after = await commandStats(srv.address);
      assert.deepEqual(statsDelta(before, after, IGNORE), { incr: requests });
      const files = [...Deno.readDirSync(dir)].map((e) => e.name).sort();
      assert.deepEqual(files, Array.from({ length: n }, (_, i) => `vol-${i}.json`));
      const collect = jobs(objects).find((j) => j.metadata.name === "vol-collect")!;
      const m = await runPod(
        podProcess(collect.spec.template.spec.containers[0], 0, {}, { [K8S_RESULTS_DIR]: dir }),
      );
      assert.equal(m.code, 0, m.stderr);
      const merged = JSON.parse(await Deno.readTextFile(`${dir}/vol-merged.json`));
      assert.equal(merged.tests[0].requests, requests);
      for (let i = 0; i < n; i++) {
        const shard = JSON.parse(await Deno.readTextFile(`${dir}/vol-${i}.json`));
        // Each began measuring at the common start, not before, and not long after.
        assert.equal(Date.parse(shard.config.startAt), startMs);
        const began = shard.tests[0].measureStartMs;
        assert.ok(began >= startMs - 5 && began < startMs + 2000, `shard ${i}: ${began - startMs}`);
        assert.equal(shard.tests[0].requests, requests / n);
      }
      // A missing shard makes the collect step fail.
      await Deno.remove(`${dir}/vol-1.json`);
      const short = await runPod(
        podProcess(collect.spec.template.spec.containers[0], 0, {}, { [K8S_RESULTS_DIR]: dir }),
      );
      assert.notEqual(short.code, 0);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);

loadTest(
  "k8s: a scenario pod runs the ConfigMap's file with the Job's target and seed, and writes its summary on the volume",
  async () => {
    await using srv = await startLocalServer("redis");
    const dir = await Deno.makeTempDir();
    try {
      const source = 'import { scenario } from "membench";\n' +
        'await scenario("k8s-mix", { history: "off" }, async (run) => {\n' +
        '  await run.bench({ name: "fill", tests: ["set"], requests: 2000, clients: 4 });\n' +
        "});\n";
      const n = 2;
      const objects = k8sJobManifests({
        name: "mix",
        shards: n,
        seed: 5,
        target: srv.address,
        results: "volume",
        scenario: { fileName: "mix.ts", source },
      });
      // The ConfigMap's key, mounted where the container's mount says (subPath: the file itself).
      const cm = objects.find((o) => o.kind === "ConfigMap") as Obj;
      const container = shardJob(objects).spec.template.spec.containers[0];
      const mount = container.volumeMounts.find((m: Obj) => m.name === "scenario");
      assert.equal(mount.subPath, "mix.ts");
      await Deno.writeTextFile(`${dir}/mix.ts`, cm.data[mount.subPath]);
      await Deno.mkdir(`${dir}/results`);
      const mounts = { [mount.mountPath]: `${dir}/mix.ts`, [K8S_RESULTS_DIR]: `${dir}/results` };
      let total = 0;
      for (let i = 0; i < n; i++) {
        const before = await commandStats(srv.address);
        const r = await runPod(podProcess(container, i, {}, mounts), dir);
        assert.equal(r.code, 0, r.stderr);
        const sets = statsDelta(before, await commandStats(srv.address), IGNORE).set ?? 0;
        // The pod's bench phase ran its shard's part: half of the 2000 SETs.
        assert.equal(sets, 1000, `pod ${i}: the server saw ${sets} SETs`);
        total += sets;
        // Each shard's summary in its own folder of the volume, with the Job's seed and target,
        // and the phase's shard result beside it for membench merge.
        const files = [...Deno.readDirSync(`${dir}/results/mix/${i}`)].map((e) => e.name).sort();
        assert.equal(files.length, 2, files.join());
        assert.equal(files[0], `fill.shard-${i}-of-${n}.json`);
        const summary = JSON.parse(await Deno.readTextFile(`${dir}/results/mix/${i}/${files[1]}`));
        assert.equal(summary.status, "passed");
        assert.equal(summary.seed, 5);
        assert.equal(summary.options.target, srv.address);
      }
      assert.equal(total, 2000);
      const merged = await runCli([
        "merge",
        ...Array.from(
          { length: n },
          (_, i) => `${dir}/results/mix/${i}/fill.shard-${i}-of-${n}.json`,
        ),
        "--json",
        "-",
      ]);
      assert.equal(merged.code, 0, merged.stderr);
      assert.equal(JSON.parse(merged.stdout).tests[0].requests, 2000);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
