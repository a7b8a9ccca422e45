// The README's examples, run as written (issue 23): every command line of README.md's ```sh
// blocks that runs membench or deno is extracted and run through bash, with the README's own
// `alias membench=...`, against servers this test starts on free loopback ports, and checked for
// its exit code and for what its comment promises (against the servers' own counters where it
// sends traffic). An example that cannot run on a test machine says so in the README with
// `# (not run in tests: REASON)`; every other example must be run, and each has exactly one entry
// in CHECKS. The only changes made to a command are those in SUBSTITUTIONS below.
//
// What an example reads is made by its check's `before`, under the name the README uses, in a
// temporary folder where the `membench` examples run (the `./node_modules/.bin/deno` ones run in
// the checkout): a tcpdump capture of the test's memcached traffic (capture.pcap), the same of
// Redis traffic turned into pcapng by editcap (prod.pcapng), the SIFT vectors of
// ../shared/data/ngt-sift5k linked as sift_*, an ann-benchmarks HDF5 file and a .npy file written
// by h5py and numpy, seeded datasets (sift.mbv, items.mbv), the test CA (ca.crt), and the
// scenario file of the README's own ```ts block (my-app/loadtests/cache.ts). The shell has
// SALT set, as a user keeps the salt in a variable. Examples run one after the other, in README
// order (the replay examples replay what the record examples wrote); two shards of one run run
// side by side. README_TEST_VERBOSE=1 prints each example's command, exit code, time and output.
import assert from "node:assert/strict";
import { parse as parseYaml } from "yaml";
import { bench, freePort, generateDataset, startLocalCluster, startLocalServer } from "../mod.ts";
import { captureNoDrops, tsharkMemcacheCommands } from "./capture_helpers.ts";
import { commandStats, loadTest, redisText } from "./helpers.ts";

const ROOT = new URL("..", import.meta.url).pathname; // ends with "/"
const README = `${ROOT}README.md`;
const SEARCH_MODULE = new URL("../../shared/servers/redisearch-2.6/redisearch.so", import.meta.url)
  .pathname;
const SIFT5K = new URL("../../shared/data/ngt-sift5k/", import.meta.url).pathname;
const MARKER = /\(not run in tests: ([^)]+)\)/;
const SALT = "readme-test-salt";

/** One command line of a ```sh block (continuation lines joined), with its trailing comment. */
export interface Example {
  /** 1-based line of README.md where it starts. */
  line: number;
  /** The command as written, without its comment. */
  command: string;
  /** The trailing comment (and the indented comment lines under it), without `#`. */
  comment: string;
  /** The reason given by a `(not run in tests: ...)` marker. */
  notRun?: string;
  /** The block's `alias membench=...` in force (the last one seen in README order). */
  alias?: string;
  /** A `cd DIR` line earlier in the same block. */
  cd?: string;
  /** Shell variables set by earlier lines of the same block (`START=$(date ...)`). */
  setup: string[];
}

// Splits `cmd # comment` where `#` starts a word outside quotes.
function splitComment(line: string): [string, string] {
  let quote = "";
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quote) {
      if (c === quote) quote = "";
      else if (c === "\\" && quote === '"') i++;
    } else if (c === "'" || c === '"') quote = c;
    else if (c === "\\") i++;
    else if (c === "#" && (i === 0 || /\s/.test(line[i - 1]!))) {
      return [line.slice(0, i).trimEnd(), line.slice(i + 1).trim()];
    }
  }
  return [line.trimEnd(), ""];
}

/**
 * Every command line of README's ```sh blocks that runs membench or deno (lines of other tools
 * only, kubectl and docker, are not membench's examples); `alias membench=` and `cd` lines are
 * the shell set-up the later lines run under.
 */
export function extractExamples(md: string): { examples: Example[]; others: string[] } {
  const lines = md.split("\n");
  const examples: Example[] = [];
  const others: string[] = [];
  let alias: string | undefined;
  let inSh = false;
  let cd: string | undefined;
  let setup: string[] = [];
  let last: Example | undefined;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (/^```/.test(raw)) {
      inSh = !inSh && /^```sh\s*$/.test(raw);
      cd = undefined;
      setup = [];
      last = undefined;
      continue;
    }
    if (!inSh || raw.trim() === "") continue;
    if (raw.trimStart().startsWith("#")) {
      // An indented comment line continues the comment of the command above it.
      if (/^\s+#/.test(raw) && last) last.comment += " " + raw.trim().slice(1).trim();
      else last = undefined;
      continue;
    }
    const start = i;
    let text = "";
    let comment = "";
    for (;;) {
      const [cmd, c] = splitComment(lines[i]!);
      if (c) comment += (comment ? " " : "") + c;
      if (cmd.endsWith("\\")) {
        text += cmd.slice(0, -1).trimEnd() + " ";
        i++;
      } else {
        text += cmd;
        break;
      }
    }
    const command = text.replace(/\s+/g, " ").trim();
    if (/^alias membench=/.test(command)) {
      alias = command;
      last = undefined;
      continue;
    }
    const cdMatch = /^cd (\S+)$/.exec(command);
    if (cdMatch) {
      cd = cdMatch[1]!;
      last = undefined;
      continue;
    }
    if (/^[A-Za-z_]\w*=(\$\(.*\)|'[^']*'|"[^"]*"|\S+)$/.test(command)) {
      setup = [...setup, command];
      last = undefined;
      continue;
    }
    if (!/(^|[\s|;&])(membench|deno|\.\/node_modules\/\.bin\/deno)\s/.test(command)) {
      others.push(command);
      last = undefined;
      continue;
    }
    last = {
      line: start + 1,
      command,
      comment,
      setup,
      ...(alias !== undefined ? { alias } : {}),
      ...(cd !== undefined ? { cd } : {}),
    };
    examples.push(last);
  }
  for (const e of examples) {
    const m = MARKER.exec(e.comment);
    if (m) e.notRun = m[1]!;
  }
  return { examples, others };
}

// ---------------------------------------------------------------------------------------------
// What differs on a test machine, and nothing else. Each row: what is replaced, by what, and why.

type ServerName =
  | "redis"
  | "redisAuth"
  | "search"
  | "memcached"
  | "memcachedSasl"
  | "tls"
  | "cluster";

interface Ctx {
  tmp: string;
  servers: Record<ServerName, { port: number; address: string }>;
  /** Per-example state the checks share (the figures of a recording, say). */
  state: Record<string, unknown>;
}

interface Substitution {
  what: RegExp;
  by: (ctx: Ctx, check: Check, m: string) => string;
  why: string;
  /** In the alias line, in the block's variable settings, or in the command. */
  where: "alias" | "setup" | "command";
}

const DEFAULT_PORTS: Record<string, ServerName> = {
  "6379": "redis",
  "6380": "tls",
  "11211": "memcached",
  "7000": "cluster",
};

const SUBSTITUTIONS: Substitution[] = [
  {
    what: /\/path\/to\/membench\//g,
    by: () => ROOT,
    why: "the README's placeholder for the membench checkout",
    where: "alias",
  },
  {
    what: /(?<=^alias membench=')\.\/node_modules\/\.bin\/deno|(?<= )cli\/main\.ts(?=')/g,
    by: (_c, _k, m) => ROOT + m.replace(/^\.\//, ""),
    why: "examples run in a temporary folder (their files land there), not in the checkout",
    where: "alias",
  },
  {
    what: /^npm ci && /,
    by: () => "",
    why: "the checkout is installed; npm ci would reinstall node_modules under the other tests",
    where: "command",
  },
  {
    what: /\b(?:127\.0\.0\.1|cache\.internal):(6379|6380|11211)\b|(?<=-p )(6379|11211|7000)\b/g,
    by: (ctx, check, m) => {
      const port = /(6379|6380|11211|7000)$/.exec(m)![1]!;
      const s = ctx.servers[check.ports?.[port] ?? DEFAULT_PORTS[port]!];
      return m.includes(":") ? `127.0.0.1:${s.port}` : String(s.port);
    },
    why: "the servers listen on free loopback ports; cache.internal is the TLS server here " +
      "(its certificate names 127.0.0.1); 7000 is a node of the test's cluster",
    where: "command",
  },
  {
    what: /^((?:\w+=\S+ )*membench (?:bench|replay|record) )(?!(?:.*\s)?(?:-[hpu]|--target)\s)/,
    by: (ctx, check, m) => {
      // Never the machine's own 6379/11211: such an example's check must name its server.
      if (!check.server) throw new Error(`no server for \`${m.trim()}\` (check ${check.match})`);
      return `${m}-p ${ctx.servers[check.server].port} `;
    },
    why: "an example without a target means the default port (6379 or 11211), and a capture " +
      "without -p reads those ports: the local server's port is given instead",
    where: "command",
  },
  {
    what: /\/path\/to\/redisearch\.so/g,
    by: () => SEARCH_MODULE,
    why: "the README's placeholder for the RediSearch module (../shared/servers/redisearch-2.6)",
    where: "command",
  },
  {
    what: /(?<=[\s=])\.\.\/shared\//g,
    by: () => new URL("../../shared/", import.meta.url).pathname,
    why: "paths relative to the checkout, where the example runs from a temporary folder",
    where: "command",
  },
  {
    what: /(?<=membench record -i lo .*--duration )60s\b/,
    by: () => "3s",
    why: "a live capture lasts its --duration whatever the traffic; the comment says it is a " +
      "minute's capture, 3 s of the test's traffic show the same",
    where: "command",
  },
  {
    what: /(?<=^START=\$\(date -u -d ')\+10 sec(?=')/m,
    by: () => "+4 sec",
    why: "the margin for the shards to start on their machines; two local processes start in less",
    where: "setup",
  },
];

/** The rows of SUBSTITUTIONS that changed something (each must, or it is a dead row). */
const usedSubstitutions = new Set<Substitution>();

/** The command as the test runs it, and the alias and block settings before it. */
function substitute(e: Example, check: Check, ctx: Ctx): { command: string; prelude: string } {
  let command = e.command;
  let alias = e.alias ?? "";
  let setup = e.setup.join("\n");
  for (const s of SUBSTITUTIONS) {
    const by = (m: string) => {
      const out = s.by(ctx, check, m);
      if (out !== m) usedSubstitutions.add(s);
      return out;
    };
    if (s.where === "command") command = command.replace(s.what, by);
    else if (s.where === "setup") setup = setup.replace(s.what, by);
    else alias = alias.replace(s.what, by);
  }
  return { command, prelude: `${alias}\n${setup}` };
}

// ---------------------------------------------------------------------------------------------
// Running an example.

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  elapsedMs: number;
}

interface Check {
  /** Matches the README command (as written) of exactly one example. */
  match: RegExp;
  /** The server an example without a target is pointed at. */
  server?: ServerName;
  /** Which server a port of the example means, where not the default (6379 redis, ...). */
  ports?: Record<string, ServerName>;
  /** Runs in the checkout (the `./node_modules/.bin/deno` lines) instead of the temp folder. */
  inRepo?: boolean;
  /** Runs side by side with the next example (both started, then both awaited). */
  withNext?: boolean;
  /** Expected exit codes. @default [0] */
  codes?: number[];
  /** Makes the input files the example names (a capture, a dataset). */
  before?: (ctx: Ctx) => Promise<void>;
  /** Runs beside the example (traffic for a live capture); `waitFor` watches its stderr. */
  during?: (ctx: Ctx, waitFor: (re: RegExp) => Promise<void>) => Promise<void>;
  /** What the comment promises. */
  expect: (r: Run, ctx: Ctx) => void | Promise<void>;
}

async function runExample(
  command: string,
  prelude: string,
  cwd: string,
  during: ((waitFor: (re: RegExp) => Promise<void>) => Promise<void>) | undefined,
): Promise<Run> {
  const script = `shopt -s expand_aliases\n${prelude}\n${command}\n`;
  const t0 = performance.now();
  // GNU timeout puts the example in a process group of its own and kills the whole group
  // (bash, membench, a pipeline) if it outlives 120 s.
  const child = new Deno.Command("timeout", {
    args: ["-s", "KILL", "120", "bash", "-c", script],
    cwd,
    env: { SALT, NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let stdout = "", stderr = "";
  const pump = async (s: ReadableStream<Uint8Array>, err: boolean) => {
    for await (const t of s.pipeThrough(new TextDecoderStream())) {
      if (err) stderr += t;
      else stdout += t;
    }
  };
  const pumps = Promise.all([pump(child.stdout, false), pump(child.stderr, true)]);
  let failed: unknown;
  try {
    await during?.(async (re) => {
      const end = Date.now() + 20_000;
      while (!re.test(stderr)) {
        if (Date.now() > end) throw new Error(`no ${re} on stderr: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    });
  } catch (e) {
    failed = e; // still wait for the example, so that nothing outlives the test
  }
  const { code } = await child.status;
  await pumps;
  if (failed !== undefined) throw failed;
  return { code, stdout, stderr, elapsedMs: performance.now() - t0 };
}

// ---------------------------------------------------------------------------------------------
// Helpers for the checks.

async function memcachedStats(port: number): Promise<Record<string, number>> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode("stats\r\n"));
    let text = "";
    const buf = new Uint8Array(65536);
    while (!text.endsWith("END\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    const out: Record<string, number> = {};
    for (const m of text.matchAll(/^STAT (\S+) (\S+)\r$/gm)) out[m[1]!] = Number(m[2]);
    return out;
  } finally {
    conn.close();
  }
}

/**
 * `stats` of a memcached started with -S (SASL: binary protocol only), after SASL PLAIN as
 * user `u` (written by hand from the binary protocol's spec, not with membench's codec).
 */
async function memcachedSaslStats(port: number): Promise<Record<string, number>> {
  const packet = (opcode: number, key: string, value: Uint8Array) => {
    const k = new TextEncoder().encode(key);
    const b = new Uint8Array(24 + k.length + value.length);
    const v = new DataView(b.buffer);
    v.setUint8(0, 0x80);
    v.setUint8(1, opcode);
    v.setUint16(2, k.length);
    v.setUint32(8, k.length + value.length);
    b.set(k, 24);
    b.set(value, 24 + k.length);
    return b;
  };
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(packet(0x21, "PLAIN", new TextEncoder().encode("\0u\0pw")));
    await conn.write(packet(0x10, "", new Uint8Array()));
    let buf = new Uint8Array(0);
    const out: Record<string, number> = {};
    const chunk = new Uint8Array(65536);
    for (let authed = false;;) {
      while (buf.length >= 24) {
        const v = new DataView(buf.buffer, buf.byteOffset);
        const keyLen = v.getUint16(2), body = v.getUint32(8);
        if (buf.length < 24 + body) break;
        const status = v.getUint16(6);
        const key = new TextDecoder().decode(buf.subarray(24 + v.getUint8(4), 24 + keyLen));
        const value = new TextDecoder().decode(buf.subarray(24 + keyLen, 24 + body));
        buf = buf.slice(24 + body);
        if (!authed) {
          if (status !== 0) throw new Error(`SASL auth to memcached failed: status ${status}`);
          authed = true;
        } else if (key === "") return out;
        else out[key] = Number(value);
      }
      const n = await conn.read(chunk);
      if (n === null) throw new Error("memcached closed the connection");
      const next = new Uint8Array(buf.length + n);
      next.set(buf);
      next.set(chunk.subarray(0, n), buf.length);
      buf = next;
    }
  } finally {
    conn.close();
  }
}

/** The gets and sets memcached counted (`cmd_get` counts each key of a multi-get). */
async function memcachedOps(port: number): Promise<{ get: number; set: number }> {
  const s = await memcachedStats(port);
  return { get: s["cmd_get"]!, set: s["cmd_set"]! };
}

function delta<T extends Record<string, number>>(a: T, b: T): Record<string, number> {
  const out: Record<string, number> = {};
  for (const k of Object.keys(b)) out[k] = (b[k] ?? 0) - (a[k] ?? 0);
  return out;
}

function callsDelta(a: Record<string, number>, b: Record<string, number>, cmd: string): number {
  return (b[cmd] ?? 0) - (a[cmd] ?? 0);
}

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).size > 0;
  } catch {
    return false;
  }
}

async function sh(cmd: string, args: string[], cwd?: string, stdin?: string): Promise<string> {
  const child = new Deno.Command(cmd, {
    args,
    ...(cwd ? { cwd } : {}),
    stdin: stdin === undefined ? "null" : "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  if (stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(stdin));
    await w.close();
  }
  const out = await child.output();
  const td = new TextDecoder();
  if (out.code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${td.decode(out.stderr)}`);
  return td.decode(out.stdout);
}

/** Per node of the test's cluster (primaries first, then their replicas): INFO commandstats. */
async function clusterCalls(ctx: Ctx): Promise<Record<string, number>[]> {
  return await Promise.all((ctx.state.clusterAddresses as string[]).map((a) => commandStats(a)));
}

// Calls of `cmd` between two clusterCalls, summed over the nodes `which` picks.
function clusterDelta(
  b: Record<string, number>[],
  a: Record<string, number>[],
  cmd: string,
  which: (i: number) => boolean,
): number {
  return a.reduce((n, x, i) => n + (which(i) ? (x[cmd] ?? 0) - (b[i]![cmd] ?? 0) : 0), 0);
}

/** Calls of each command the server counted (INFO commandstats). */
async function redisCalls(ctx: Ctx, name: ServerName, password?: string) {
  return await commandStats(ctx.servers[name].address, password);
}

// Memcached traffic of an application: gets and sets 10:1 over 1,000 keys, paced.
async function memcachedTraffic(port: number, durationMs: number): Promise<void> {
  await bench({
    target: `127.0.0.1:${port}`,
    protocol: "memcache-text",
    mix: "set:1,get:10",
    keyspace: 1000,
    dataSize: "32-256",
    clients: 4,
    rate: "3k/s",
    durationMs,
    seed: 11,
  });
}

// ---------------------------------------------------------------------------------------------
// What each example's comment (or its section) promises.

const lines = (s: string) => s.split("\n").filter((l) => l.trim() !== "");
const json = async (path: string) => JSON.parse(await Deno.readTextFile(path));

const CHECKS: Check[] = [
  // ---- Two commands, Scenarios
  {
    match: /deno task quickstart/,
    inRepo: true,
    expect(r) {
      assert.match(r.stdout + r.stderr, /scenario quickstart: PASSED/);
    },
  },
  {
    match: /^membench run loadtests\/cache\.ts/,
    codes: [0, 4],
    async before(ctx) {
      // The README's own scenario file, from the ```ts block that names it.
      const md = await Deno.readTextFile(README);
      const m = /```ts\n\/\/ my-app\/loadtests\/cache\.ts\n([\s\S]*?)```/.exec(md);
      assert.ok(m, "README has the ```ts block of my-app/loadtests/cache.ts");
      await Deno.mkdir(`${ctx.tmp}/my-app/loadtests`, { recursive: true });
      await Deno.writeTextFile(`${ctx.tmp}/my-app/loadtests/cache.ts`, m[1]!);
      ctx.state.runBefore = await redisCalls(ctx, "redis");
    },
    async expect(r, ctx) {
      // The scenario's bench ran (100,000 SETs and GETs on the server) and wrote its summary in
      // the application's folder.
      const d = await redisCalls(ctx, "redis");
      const b = ctx.state.runBefore as Record<string, number>;
      assert.equal(callsDelta(b, d, "set"), 100_000);
      assert.equal(callsDelta(b, d, "get"), 100_000);
      // Its exit code is its verdict: 4 exactly when the README's threshold failed (a p99 of
      // 5 ms is a production target, which a busy 2-core test machine may miss).
      const verdict = /scenario cache: (PASSED|FAILED)/.exec(r.stdout + r.stderr)?.[1];
      assert.equal(verdict, r.code === 0 ? "PASSED" : "FAILED");
      if (r.code === 4) assert.match(r.stdout + r.stderr, /FAILED bench: get\.p99 < 5ms/);
      assert.ok((await Array.fromAsync(Deno.readDir(`${ctx.tmp}/my-app/results`))).length > 0);
    },
  },
  // ---- Usage
  {
    match: /^membench bench -h 127\.0\.0\.1 -p 6379 -t set,get -n 1000000/,
    async before(ctx) {
      ctx.state.b = await redisCalls(ctx, "redis");
    },
    async expect(_r, ctx) {
      const a = await redisCalls(ctx, "redis");
      const b = ctx.state.b as Record<string, number>;
      assert.equal(callsDelta(b, a, "set"), 1_000_000);
      assert.equal(callsDelta(b, a, "get"), 1_000_000);
      const keys = Number(await redisText(ctx.servers.redis.address, ["DBSIZE"]));
      assert.ok(keys > 50_000 && keys <= 100_000, `-r 100000: ${keys} keys`);
    },
  },
  {
    match: /^membench bench -t set,get -r 100000 -q/,
    server: "redis",
    expect(r) {
      // One line per test, like redis-benchmark -q, and nothing else on stdout.
      assert.deepEqual(
        lines(r.stdout).map((l) => /^([A-Z]+): [\d.,]+ requests per second/.exec(l)?.[1]),
        ["SET", "GET"],
        r.stdout,
      );
    },
  },
  {
    match: /^membench bench --ratio 1:10 .*--key-pattern zipf:0\.99/,
    server: "redis",
    async before(ctx) {
      ctx.state.b = await redisCalls(ctx, "redis");
      await redisText(ctx.servers.redis.address, ["FLUSHALL"]);
    },
    async expect(r, ctx) {
      const a = await redisCalls(ctx, "redis");
      const b = ctx.state.b as Record<string, number>;
      const sets = callsDelta(b, a, "set"), gets = callsDelta(b, a, "get");
      assert.ok(Math.abs(sets / gets - 0.1) < 0.01, `1:10: ${sets} sets, ${gets} gets`);
      const keys = Number(await redisText(ctx.servers.redis.address, ["DBSIZE"]));
      assert.ok(keys > 1000, `a keyspace of 1M on zipf: ${keys} keys`);
      assert.ok(r.elapsedMs >= 3000, `--duration 3s: ${r.elapsedMs} ms`);
    },
  },
  {
    match: /^membench bench --mix "get:0\.8,set:0\.15,HSET/,
    server: "redis",
    async before(ctx) {
      ctx.state.b = await redisCalls(ctx, "redis");
    },
    async expect(_r, ctx) {
      const a = await redisCalls(ctx, "redis");
      const b = ctx.state.b as Record<string, number>;
      const [g, s, h] = ["get", "set", "hset"].map((c) => callsDelta(b, a, c)) as number[];
      const n = g! + s! + h!;
      assert.ok(Math.abs(g! / n - 0.8) < 0.01 && Math.abs(h! / n - 0.05) < 0.01, `${g} ${s} ${h}`);
    },
  },
  {
    match: /^membench bench --rate 50k\/s --arrival poisson --duration 3s -t get/,
    server: "redis",
    async before(ctx) {
      ctx.state.b = await redisCalls(ctx, "redis");
    },
    async expect(r, ctx) {
      // Open loop: the rate is what was sent, whatever the replies (3 s at 50k/s).
      const gets = callsDelta(
        ctx.state.b as Record<string, number>,
        await redisCalls(ctx, "redis"),
        "get",
      );
      assert.ok(gets > 120_000 && gets < 153_000, `${gets} GETs in 3 s at 50k/s`);
      assert.match(r.stdout, /open loop/);
    },
  },
  {
    match: /--server-metrics --metrics-snapshot a\.json/,
    server: "redis",
    async expect(r, ctx) {
      assert.match(r.stdout, /server side over .*\n.*127\.0\.0\.1:\d+: [\d,]+ cmd\/s/);
      assert.ok(await exists(`${ctx.tmp}/a.json`));
      await json(`${ctx.tmp}/a.json`);
    },
  },
  {
    match: /--compare-snapshot a\.json/,
    server: "redis",
    expect(r) {
      assert.match(r.stdout, /rate: [\d,.]+ -> [\d,.]+ \([+-][\d.]+%\)/);
    },
  },
  {
    match: /^membench bench -u rediss:\/\/app:secret@cache\.internal:6380\/2 --cacert ca\.crt/,
    async before(ctx) {
      ctx.state.b = await commandStats(`127.0.0.1:${ctx.state.tlsPlainPort}`);
    },
    async expect(r, ctx) {
      const a = await commandStats(`127.0.0.1:${ctx.state.tlsPlainPort}`);
      const b = ctx.state.b as Record<string, number>;
      assert.equal(callsDelta(b, a, "get"), 100_000);
      assert.ok(callsDelta(b, a, "auth") > 0 && callsDelta(b, a, "select") > 0);
      assert.doesNotMatch(r.stdout + r.stderr, /secret/);
    },
  },
  {
    match: /^membench bench -r 10000 lpush mylist __rand_int__/,
    server: "redis",
    async before(ctx) {
      await redisText(ctx.servers.redis.address, ["DEL", "mylist"]);
    },
    async expect(_r, ctx) {
      assert.equal(await redisText(ctx.servers.redis.address, ["LLEN", "mylist"]), "100000");
    },
  },
  {
    match: /^membench bench -t get -r 100000 --json result\.json --hdr-log get\.hlog --csv/,
    server: "redis",
    async expect(r, ctx) {
      const j = await json(`${ctx.tmp}/result.json`);
      assert.equal(j.tests[0].requests, 100_000);
      assert.match(
        await Deno.readTextFile(`${ctx.tmp}/get.hlog`),
        /^#\[Histogram log format version/m,
      );
      assert.match(lines(r.stdout)[0]!, /^[a-z_]+(,[a-z_0-9.]+)+$/i, "--csv: a CSV header");
    },
  },
  {
    match: /^membench bench --protocol memcache-text -p 11211 --ratio 1:10/,
    async before(ctx) {
      ctx.state.m = await memcachedOps(ctx.servers.memcached.port);
    },
    async expect(_r, ctx) {
      const d = delta(
        ctx.state.m as { get: number; set: number },
        await memcachedOps(ctx.servers.memcached.port),
      );
      assert.ok(Math.abs(d["set"]! / d["get"]! - 0.1) < 0.01, JSON.stringify(d));
      const items = (await memcachedStats(ctx.servers.memcached.port))["curr_items"]!;
      assert.ok(items > 10_000, `${items} items`);
    },
  },
  {
    match:
      /^membench bench --protocol memcache-binary --multiget 10 --noreply -t set,get,delete --user u -a pw/,
    server: "memcachedSasl",
    async before(ctx) {
      ctx.state.m = await memcachedSaslStats(ctx.servers.memcachedSasl.port);
    },
    async expect(r, ctx) {
      const d = delta(
        ctx.state.m as Record<string, number>,
        await memcachedSaslStats(ctx.servers.memcachedSasl.port),
      );
      assert.ok(d["auth_cmds"]! > 0 && d["auth_errors"] === 0, JSON.stringify(d));
      assert.equal(d["cmd_set"], 100_000);
      assert.equal(d["get_hits"]! + d["get_misses"]!, d["cmd_get"]);
      assert.doesNotMatch(r.stdout + r.stderr, /\bpw\b/);
    },
  },
  // ---- Recording
  {
    match: /^membench record --pcap capture\.pcap -p 11211 -o traffic\.mbp --salt "\$SALT"/,
    async before(ctx) {
      const port = ctx.servers.memcached.port;
      const cap = await captureNoDrops(
        port,
        () => memcachedOps(port),
        () => memcachedTraffic(port, 1500),
      );
      await Deno.rename(cap.file, `${ctx.tmp}/capture.pcap`);
      ctx.state.tshark = await tsharkMemcacheCommands(`${ctx.tmp}/capture.pcap`, port);
    },
    expect(r, ctx) {
      // As many gets and sets as tshark reads in the capture.
      const t = ctx.state.tshark as Record<string, number>;
      const m = /events per command: get ([\d,]+), set ([\d,]+)/.exec(r.stdout);
      assert.ok(m, r.stdout);
      assert.deepEqual([Number(m[1]!.replaceAll(",", "")), Number(m[2]!.replaceAll(",", ""))], [
        t["get"],
        t["set"],
      ]);
    },
  },
  {
    match: /^membench record -i lo -p 11211 -p 6379 -o traffic\.mbp --duration/,
    async before(ctx) {
      ctx.state.live0 = await memcachedOps(ctx.servers.memcached.port);
    },
    async during(ctx, waitFor) {
      await waitFor(/listening/);
      await memcachedTraffic(ctx.servers.memcached.port, 1500);
    },
    async expect(r, ctx) {
      const d = delta(
        ctx.state.live0 as { get: number; set: number },
        await memcachedOps(ctx.servers.memcached.port),
      );
      ctx.state.live = d;
      const m = /events per command: get ([\d,]+), set ([\d,]+)/.exec(r.stdout);
      assert.ok(m, r.stdout);
      // Every request the server counted during the capture, none dropped.
      assert.deepEqual([Number(m[1]!.replaceAll(",", "")), Number(m[2]!.replaceAll(",", ""))], [
        d["get"],
        d["set"],
      ]);
    },
  },
  {
    match: /^membench record --pcap prod\.pcapng -o t\.mbp --keep-tokens 2 --keep-slots/,
    server: "redis",
    async before(ctx) {
      // A pcapng of application traffic on Redis: keys with namespaces (user:ID:field).
      const port = ctx.servers.redis.port;
      const cap = await captureNoDrops(port, () => Promise.resolve(0), async () => {
        await bench({
          target: `127.0.0.1:${port}`,
          tests: ["set", "get"],
          requests: 2000,
          keyspace: 500,
          keyPrefix: "user:",
          clients: 2,
        });
      });
      await sh("editcap", ["-F", "pcapng", cap.file, `${ctx.tmp}/prod.pcapng`]);
      await Deno.remove(cap.file);
    },
    async expect(r, ctx) {
      assert.match(r.stdout, /events per command: set 2,000, get 2,000/);
      // Slots kept: each event's slot is a slot of a key the server holds, by Python's CRC16
      // (binascii.crc_hqx is the XMODEM CRC Redis Cluster uses).
      const keys = (await sh("redis-cli", [
        "-p",
        String(ctx.servers.redis.port),
        "--scan",
        "--pattern",
        "user:*",
      ]))
        .trim();
      ctx.state.userKeys = keys.split("\n");
      const slots = new Set(
        (await sh(
          "/usr/bin/python3",
          [
            "-c",
            "import sys, binascii\nfor k in sys.stdin.read().split(): print(binascii.crc_hqx(k.encode(), 0) % 16384)",
          ],
          undefined,
          keys,
        )).trim().split("\n").map(Number),
      );
      const dump = await sh(Deno.execPath(), [
        "run",
        "-A",
        `${ROOT}cli/main.ts`,
        "profile",
        "dump",
        "t.mbp",
      ], ctx.tmp);
      const seen = lines(dump).map((l) => JSON.parse(l)).filter((e) =>
        e.op === "get" || e.op === "set"
      );
      assert.equal(seen.length, 4000);
      for (const e of seen) assert.ok(slots.has(e.slot), `slot ${e.slot} of no key`);
      assert.ok(new Set(seen.map((e) => e.slot)).size > 100);
      const info = JSON.parse(
        await sh(Deno.execPath(), [
          "run",
          "-A",
          `${ROOT}cli/main.ts`,
          "profile",
          "info",
          "t.mbp",
          "--json",
          "-",
        ], ctx.tmp),
      );
      assert.equal(info.header.anonymization.keepTokens, 2);
    },
  },
  {
    match: /^membench profile info traffic\.mbp/,
    expect(r) {
      // header, counts, salt fingerprint (never the salt)
      assert.match(r.stdout, /format \d+\.\d+/);
      assert.match(r.stdout, /salt fingerprint [0-9a-f]{16}/);
      assert.match(r.stdout, /ops: get \d+, set \d+/);
      assert.doesNotMatch(r.stdout, new RegExp(SALT));
    },
  },
  {
    match: /^membench profile verify traffic\.mbp/,
    expect(r) {
      assert.match(r.stdout, /^ok: \d+ events in \d+ blocks/);
    },
  },
  {
    match: /^membench profile dump traffic\.mbp \| head/,
    expect(r) {
      const ls = lines(r.stdout);
      assert.equal(ls.length, 10);
      for (const l of ls) assert.match(JSON.parse(l).op, /^(get|set)$/);
    },
  },
  // ---- Analysis
  {
    match: /^membench analyze traffic\.mbp\s*$/,
    expect(r) {
      assert.match(r.stdout, /get/);
      assert.match(r.stdout, /hit/i);
    },
  },
  {
    match: /^membench analyze traffic\.mbp --json a\.json --html report\.html/,
    async expect(_r, ctx) {
      await json(`${ctx.tmp}/a.json`);
      assert.match(await Deno.readTextFile(`${ctx.tmp}/report.html`), /<svg/);
    },
  },
  // ---- Replay
  {
    match: /^membench replay traffic\.mbp -p 11211\s*$/,
    async before(ctx) {
      ctx.state.m = await memcachedOps(ctx.servers.memcached.port);
    },
    async expect(r, ctx) {
      // Every recorded request, at the recorded pace (the recording lasted about 1.5 s).
      const d = delta(
        ctx.state.m as { get: number; set: number },
        await memcachedOps(ctx.servers.memcached.port),
      );
      assert.deepEqual(d, ctx.state.live);
      assert.ok(r.elapsedMs > 1200, `recorded pace: ${r.elapsedMs} ms`);
    },
  },
  {
    match: /^membench replay traffic\.mbp -p 11211 --speed max --loop 3/,
    async before(ctx) {
      ctx.state.m = await memcachedOps(ctx.servers.memcached.port);
    },
    async expect(_r, ctx) {
      const d = delta(
        ctx.state.m as { get: number; set: number },
        await memcachedOps(ctx.servers.memcached.port),
      );
      const live = ctx.state.live as { get: number; set: number };
      assert.deepEqual(d, { get: 3 * live.get, set: 3 * live.set });
    },
  },
  {
    match: /^membench replay traffic\.mbp -u 127\.0\.0\.1:6379 --protocol resp --warmup/,
    async before(ctx) {
      ctx.state.b = await redisCalls(ctx, "redis");
    },
    async expect(_r, ctx) {
      const a = await redisCalls(ctx, "redis");
      const b = ctx.state.b as Record<string, number>;
      const live = ctx.state.live as { get: number; set: number };
      assert.equal(callsDelta(b, a, "get"), live.get);
      assert.ok(callsDelta(b, a, "set") > live.set, "the warm-up stores keys first");
    },
  },
  {
    match: /^REDISCLI_AUTH=secret membench replay traffic\.mbp -p 6379 --protocol resp/,
    ports: { "6379": "redisAuth" },
    async before(ctx) {
      ctx.state.b = await redisCalls(ctx, "redisAuth", "secret");
    },
    async expect(r, ctx) {
      const a = await redisCalls(ctx, "redisAuth", "secret");
      const b = ctx.state.b as Record<string, number>;
      assert.equal(callsDelta(b, a, "get"), (ctx.state.live as { get: number }).get);
      assert.ok(callsDelta(b, a, "auth") > 0);
      assert.doesNotMatch(r.stdout + r.stderr, /secret/);
    },
  },
  {
    match: /^membench replay traffic\.mbp --mode synthetic --seed 7 --duration 3s/,
    server: "memcached",
    async before(ctx) {
      ctx.state.m = await memcachedOps(ctx.servers.memcached.port);
    },
    async expect(r, ctx) {
      const d = delta(
        ctx.state.m as { get: number; set: number },
        await memcachedOps(ctx.servers.memcached.port),
      );
      assert.ok(d["get"]! > 0 && d["set"]! > 0, JSON.stringify(d));
      assert.match(r.stdout + r.stderr, /digest/);
      assert.ok(r.elapsedMs >= 3000);
    },
  },
  {
    match: /^membench replay traffic\.mbp --max-hit-ratio-diff 0\.02 --max-lateness-p99 2ms/,
    server: "memcached",
    codes: [0, 4],
    expect(r) {
      // exit 4 if not faithful: exactly when one of the two limits is not met.
      const failed = [...r.stdout.matchAll(/check (\w+) = .* \.\.\. FAILED/g)].map((m) => m[1]);
      assert.match(r.stdout, /check hit_ratio_diff = [\d.]+ <= 0\.02/);
      assert.match(r.stdout, /check lateness_p99_us = \d+ <= 2000/);
      assert.equal(r.code, failed.length > 0 ? 4 : 0, r.stdout);
    },
  },
  // ---- Cluster mode
  {
    match: /^membench bench --cluster -p 7000 -t set,get -n 100000/,
    async before(ctx) {
      ctx.state.cb = await clusterCalls(ctx);
    },
    async expect(r, ctx) {
      // Every request on a primary (3 primaries first), as the nodes count them; the report has a
      // line per node.
      const a = await clusterCalls(ctx), b = ctx.state.cb as Record<string, number>[];
      assert.equal(clusterDelta(b, a, "set", (i) => i < 3), 100_000);
      assert.equal(clusterDelta(b, a, "get", (i) => i < 3), 100_000);
      for (let i = 0; i < 3; i++) assert.ok(a[i]!.set! - (b[i]!.set ?? 0) > 20_000);
      for (const addr of (ctx.state.clusterAddresses as string[]).slice(0, 3)) {
        assert.ok(r.stdout.includes(addr), `no line for ${addr}: ${r.stdout}`);
      }
    },
  },
  {
    match: /^membench bench --cluster -p 7000 --cluster-tags -t set -n 20000/,
    async before(ctx) {
      ctx.state.cb = await clusterCalls(ctx);
    },
    async expect(_r, ctx) {
      // The primaries executed the SETs, and each holds keys of redis-benchmark's shape, all in
      // one slot (CLUSTER KEYSLOT and GETKEYSINSLOT, asked of the node).
      const a = await clusterCalls(ctx), b = ctx.state.cb as Record<string, number>[];
      assert.equal(clusterDelta(b, a, "set", (i) => i < 3), 20_000);
      for (const addr of (ctx.state.clusterAddresses as string[]).slice(0, 3)) {
        const out = await new Deno.Command("redis-cli", {
          args: ["-p", addr.split(":")[1]!, "--scan", "--pattern", "key:{*"],
          stdout: "piped",
        }).output();
        const keys = new TextDecoder().decode(out.stdout).split("\n").filter((l) => l !== "");
        assert.ok(keys.length > 0 && keys.every((k) => /^key:\{[^{}]+\}:\d+$/.test(k)), addr);
        // All in the first key's slot: the node lists every one of them there (other examples'
        // keys may share the slot).
        const slot = await redisText(addr, ["CLUSTER", "KEYSLOT", keys[0]!]);
        const listed = await new Deno.Command("redis-cli", {
          args: ["-p", addr.split(":")[1]!, "CLUSTER", "GETKEYSINSLOT", slot, "1000000"],
          stdout: "piped",
        }).output();
        const there = new Set(new TextDecoder().decode(listed.stdout).split("\n"));
        const outside = keys.filter((k) => !there.has(k));
        assert.equal(outside.length, 0, `${addr}: ${outside.length} keys outside slot ${slot}`);
      }
    },
  },
  {
    match: /^membench bench --cluster -p 7000 --rfr replica -t get -n 20000/,
    async before(ctx) {
      ctx.state.cb = await clusterCalls(ctx);
    },
    async expect(_r, ctx) {
      // Reads from the replicas only (nodes 3..5): the primaries served none.
      const a = await clusterCalls(ctx), b = ctx.state.cb as Record<string, number>[];
      assert.equal(clusterDelta(b, a, "get", (i) => i >= 3), 20_000);
      assert.equal(clusterDelta(b, a, "get", (i) => i < 3), 0);
    },
  },
  {
    match: /^membench replay t\.mbp --cluster -p 7000 --speed max/,
    async before(ctx) {
      const addrs = (ctx.state.clusterAddresses as string[]).slice(0, 3);
      for (const a of addrs) await redisText(a, ["FLUSHALL"]);
      ctx.state.cb = await clusterCalls(ctx);
    },
    async expect(_r, ctx) {
      const a = await clusterCalls(ctx), b = ctx.state.cb as Record<string, number>[];
      assert.equal(clusterDelta(b, a, "set", (i) => i < 3), 2000);
      assert.equal(clusterDelta(b, a, "get", (i) => i < 3), 2000);
      // Each key back in its recorded slot: per slot, the cluster holds as many keys as the
      // original keys (user:*) the cluster itself puts in that slot (CLUSTER KEYSLOT).
      const ports = (ctx.state.clusterAddresses as string[]).slice(0, 3).map((x) =>
        x.split(":")[1]!
      );
      const keys = ctx.state.userKeys as string[];
      const slotOf = lines(
        await sh(
          "redis-cli",
          ["-p", ports[0]!],
          undefined,
          keys.map((k) => `CLUSTER KEYSLOT ${k}\n`).join(""),
        ),
      ).map(Number);
      const want = new Map<number, number>();
      for (const sl of slotOf) want.set(sl, (want.get(sl) ?? 0) + 1);
      const got = new Map<number, number>();
      const q = [...want.keys()].map((sl) => `CLUSTER COUNTKEYSINSLOT ${sl}\n`).join("");
      for (const port of ports) {
        // A node counts only the slots it owns (0 for the others).
        lines(await sh("redis-cli", ["-p", port], undefined, q)).forEach((n, i) => {
          const sl = [...want.keys()][i]!;
          got.set(sl, (got.get(sl) ?? 0) + Number(n));
        });
      }
      assert.ok(want.size > 100);
      assert.deepEqual([...got.entries()].sort(), [...want.entries()].sort());
    },
  },
  // ---- Vector datasets
  {
    match: /^membench dataset info sift_base\.fvecs/,
    async before(ctx) {
      for (
        const [from, to] of [["sift5k_base.fvecs", "sift_base.fvecs"], [
          "sift5k_query.fvecs",
          "sift_query.fvecs",
        ], ["sift5k_groundtruth.ivecs", "sift_groundtruth.ivecs"]]
      ) {
        await Deno.symlink(SIFT5K + from, `${ctx.tmp}/${to}`);
      }
    },
    async expect(r, ctx) {
      const sum = (await sh("sha256sum", [`${ctx.tmp}/sift_base.fvecs`])).split(" ")[0]!;
      assert.match(r.stdout, /dim\s+128/);
      assert.ok(r.stdout.includes(sum), `sha256 ${sum}: ${r.stdout}`);
    },
  },
  {
    match: /^membench dataset convert glove-100-angular\.hdf5 glove\.mbv/,
    async before(ctx) {
      await sh("/usr/bin/python3", [
        "-c",
        `
import h5py, numpy as np
rng = np.random.default_rng(1)
train = rng.standard_normal((3000, 100)).astype(np.float32)
test = rng.standard_normal((50, 100)).astype(np.float32)
n = lambda a: a / np.linalg.norm(a, axis=1, keepdims=True)
d = 1 - n(test) @ n(train).T
nb = np.argsort(d, axis=1)[:, :10]
with h5py.File("glove-100-angular.hdf5", "w") as f:
    f.attrs["distance"] = "angular"
    f["train"] = train; f["test"] = test
    f["neighbors"] = nb.astype(np.int32); f["distances"] = np.take_along_axis(d, nb, 1).astype(np.float32)
`,
      ], ctx.tmp);
    },
    async expect(_r, ctx) {
      const info = await sh(Deno.execPath(), [
        "run",
        "-A",
        `${ROOT}cli/main.ts`,
        "dataset",
        "info",
        "glove.mbv",
      ], ctx.tmp);
      assert.match(info, /dim\s+100/);
      assert.match(info, /vectors\s+3,000/);
      assert.match(info, /metric\s+COSINE/);
    },
  },
  {
    match: /^membench dataset convert my\.npy my\.mbv --queries 1000 --gt 100/,
    async before(ctx) {
      await sh("/usr/bin/python3", [
        "-c",
        `
import numpy as np
np.save("my.npy", np.random.default_rng(2).standard_normal((6000, 32)).astype(np.float32))
`,
      ], ctx.tmp);
    },
    async expect(_r, ctx) {
      const info = await sh(Deno.execPath(), [
        "run",
        "-A",
        `${ROOT}cli/main.ts`,
        "dataset",
        "info",
        "my.mbv",
      ], ctx.tmp);
      assert.match(info, /vectors\s+5,000/);
      assert.match(info, /queries\s+1,000/);
      assert.match(info, /ground truth\s+top 100/);
    },
  },
  {
    match: /^membench dataset groundtruth sift\.mbv --k 100 --num-vectors 100000/,
    async before(ctx) {
      await generateDataset(`${ctx.tmp}/sift.mbv`, {
        dim: 128,
        count: 100_000,
        queries: 100,
        seed: 3,
      });
    },
    expect(r) {
      assert.match(r.stdout, /top 100 \(L2\) for 100 queries over vectors 0\.\.100000 /);
    },
  },
  {
    match: /^membench dataset groundtruth items\.mbv --k 10 --filter/,
    async before(ctx) {
      await generateDataset(`${ctx.tmp}/items.mbv`, {
        dim: 16,
        count: 20_000,
        queries: 100,
        seed: 4,
        tags: [{ name: "red", share: 0.3 }, { name: "blue", share: 0.2 }],
        numeric: [{ name: "price", min: 0, max: 100 }],
      });
    },
    expect(r) {
      // red 30% and blue 20% independently, price uniform in [0, 100): the filter selects
      // (1 - 0.7 x 0.8) x 0.4 = 17.6% of the 20,000 vectors.
      const m = /top 10 .* filter @tag:\{red\|blue\} @price:\[10 \(50\] \(([\d,]+) match\)/.exec(
        r.stdout,
      );
      assert.ok(m, r.stdout);
      const n = Number(m[1]!.replaceAll(",", ""));
      assert.ok(n > 3200 && n < 3850, `${n} match`);
    },
  },
  {
    match: /^membench dataset generate syn\.mbv --dim 128/,
    async expect(_r, ctx) {
      const info = await sh(Deno.execPath(), [
        "run",
        "-A",
        `${ROOT}cli/main.ts`,
        "dataset",
        "info",
        "syn.mbv",
      ], ctx.tmp);
      assert.match(info, /vectors\s+100,000/);
      assert.match(info, /metric\s+COSINE/);
      assert.match(info, /tag field 'tag' \(2 tags: red, blue\); numeric: price/);
    },
  },
  // ---- Sharded runs
  {
    match: /^membench bench --shards 2 -t set,get -n 200000/,
    server: "redis",
    async before(ctx) {
      ctx.state.b = await redisCalls(ctx, "redis");
    },
    async expect(_r, ctx) {
      // 2 local processes, merged: together exactly what one run sends.
      const a = await redisCalls(ctx, "redis");
      const b = ctx.state.b as Record<string, number>;
      assert.equal(callsDelta(b, a, "set"), 200_000);
      assert.equal(callsDelta(b, a, "get"), 200_000);
    },
  },
  {
    match: /--shard 0\/2 --start-at \$START --json s0\.json/,
    server: "redis",
    withNext: true,
    async before(ctx) {
      ctx.state.shards = await redisCalls(ctx, "redis");
    },
    async expect(_r, ctx) {
      const j = await json(`${ctx.tmp}/s0.json`);
      assert.ok(j.tests[0].requests > 0 && j.tests[0].requests < 200_000);
    },
  },
  {
    match: /--shard 1\/2 --start-at \$START --json s1\.json/,
    server: "redis",
    async expect(_r, ctx) {
      // The two shards together sent what one run sends.
      const a = await redisCalls(ctx, "redis");
      const b = ctx.state.shards as Record<string, number>;
      assert.equal(callsDelta(b, a, "set"), 200_000);
      assert.equal(callsDelta(b, a, "get"), 200_000);
    },
  },
  {
    match: /^membench merge s0\.json s1\.json --threshold "get\.p99 < 2ms"/,
    codes: [0, 4],
    async expect(r, ctx) {
      // exit 4 exactly when the merged run's GET p99 is 2 ms or more.
      const s0 = await json(`${ctx.tmp}/s0.json`);
      assert.ok(s0);
      assert.match(r.stdout + r.stderr, /get\.p99/);
      assert.equal(r.code === 4, /^FAILED get\.p99 < 2ms \(value /m.test(r.stdout + r.stderr));
    },
  },
  {
    match: /^membench replay traffic\.mbp -p 11211 --shard 1\/3 --json r1\.json/,
    async before(ctx) {
      ctx.state.m = await memcachedOps(ctx.servers.memcached.port);
    },
    async expect(_r, ctx) {
      const d = delta(
        ctx.state.m as { get: number; set: number },
        await memcachedOps(ctx.servers.memcached.port),
      );
      const live = ctx.state.live as { get: number; set: number };
      assert.ok(d["get"]! > 0 && d["get"]! < live.get, `a third of ${live.get}: ${d["get"]}`);
      await json(`${ctx.tmp}/r1.json`);
    },
  },
  // ---- Kubernetes
  {
    match: /^membench k8s job --name load --shards 4/,
    async expect(_r, ctx) {
      const text = await Deno.readTextFile(`${ctx.tmp}/job.yaml`);
      const docs = text.split(/^---$/m).filter((d) => d.trim()).map((d) =>
        parseYaml(d) as { kind?: string; spec: Record<string, unknown> }
      );
      const job = docs.find((d) => d.kind === "Job");
      assert.ok(job, text);
      assert.equal(job.spec.completionMode, "Indexed");
      assert.equal(job.spec.completions, 4);
      assert.equal(job.spec.parallelism, 4);
      assert.match(JSON.stringify(job), /-n.*4000000/);
    },
  },
  // ---- Development
  {
    match: /deno task check/,
    inRepo: true,
    expect() {},
  },
  {
    match: /deno task lint/,
    inRepo: true,
    expect() {},
  },
  // ---- Vector search
  {
    match: /scenarios\/vss-recall\.ts/,
    inRepo: true,
    expect(r) {
      assert.match(r.stdout + r.stderr, /scenario vss-recall: PASSED/);
      assert.match(r.stdout + r.stderr, /recall\.mean >= 0\.95/);
    },
  },
  {
    match: /^membench vec run -h 127\.0\.0\.1 -p 6379 --dataset/,
    ports: { "6379": "search" },
    async expect(r, ctx) {
      // Exit 0: every EF_RUNTIME's mean recall is at least the threshold.
      const means = [...r.stdout.matchAll(/recall@10\s+mean (\d\.\d+)/g)].map((m) => Number(m[1]));
      assert.equal(means.length, 2);
      for (const m of means) assert.ok(m >= 0.7, `mean recall ${m}`);
      assert.match(r.stdout, /summary\n\s+EF_RUNTIME/);
      // --cleanup: the index and its hashes are gone.
      assert.equal(await redisText(ctx.servers.search.address, ["DBSIZE"]), "0");
    },
  },
];

// ---------------------------------------------------------------------------------------------
// The servers.

async function makeCerts(dir: string): Promise<void> {
  const ssl = (args: string[]) => sh("openssl", args, dir);
  await ssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=readme test CA",
  ]);
  await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  await ssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "server.key",
    "-out",
    "server.csr",
    "-subj",
    "/CN=localhost",
  ]);
  await ssl([
    "x509",
    "-req",
    "-in",
    "server.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    "server.crt",
    "-days",
    "2",
    "-extfile",
    "ext.cnf",
  ]);
}

async function saslConfig(dir: string): Promise<void> {
  await Deno.writeTextFile(
    `${dir}/memcached.conf`,
    `mech_list: plain\nsasldb_path: ${dir}/sasldb2\n`,
  );
  await sh(
    "saslpasswd2",
    ["-a", "memcached", "-c", "-p", "-f", `${dir}/sasldb2`, "u"],
    undefined,
    "pw",
  );
}

loadTest("README: every example runs as written and does what its comment says", async () => {
  const md = await Deno.readTextFile(README);
  const { examples } = extractExamples(md);
  const tmp = await Deno.makeTempDir({ prefix: "membench-readme-" });
  const certs = await Deno.makeTempDir({ prefix: "membench-readme-certs-" });
  try {
    await makeCerts(certs);
    await Deno.copyFile(`${certs}/ca.crt`, `${tmp}/ca.crt`); // the example's --cacert ca.crt
    await saslConfig(certs);
    const tlsPort = freePort();
    await using redis = await startLocalServer("redis");
    // 3 primaries (the first nodes) with a replica each.
    await using cluster = await startLocalCluster({ primaries: 3, replicas: 1 });
    await using redisAuth = await startLocalServer("redis", { args: ["--requirepass", "secret"] });
    await using search = await startLocalServer("redis", { modules: [{ path: SEARCH_MODULE }] });
    await using memcached = await startLocalServer("memcached");
    await using memcachedSasl = await startLocalServer("memcached", {
      args: ["-S"],
      env: { SASL_CONF_PATH: certs },
    });
    await using tls = await startLocalServer("redis", {
      args: [
        ...["--tls-port", String(tlsPort), "--tls-auth-clients", "no"],
        ...["--tls-cert-file", `${certs}/server.crt`, "--tls-key-file", `${certs}/server.key`],
        ...[
          "--tls-ca-cert-file",
          `${certs}/ca.crt`,
          "--user",
          "app",
          "on",
          ">secret",
          "~*",
          "&*",
          "+@all",
        ],
      ],
    });
    const ctx: Ctx = {
      tmp,
      servers: {
        redis,
        redisAuth,
        search,
        memcached,
        memcachedSasl,
        tls: { port: tlsPort, address: `127.0.0.1:${tlsPort}` },
        cluster: { port: cluster.nodes[0]!.port, address: cluster.address },
      },
      state: { tlsPlainPort: tls.port, clusterAddresses: cluster.addresses },
    };

    // Every check names one example, every example that runs has one check.
    const used = new Set<Check>();
    const plan: Array<{ e: Example; check: Check }> = [];
    const problems: string[] = [];
    for (const e of examples) {
      const matching = CHECKS.filter((c) => c.match.test(e.command));
      if (e.notRun !== undefined) {
        if (matching.length > 0) {
          problems.push(`README:${e.line} is marked not run but has a check`);
        }
        continue;
      }
      if (matching.length !== 1) {
        problems.push(`README:${e.line}: ${matching.length} checks for \`${e.command}\``);
        continue;
      }
      used.add(matching[0]!);
      plan.push({ e, check: matching[0]! });
    }
    for (const c of CHECKS) {
      if (!used.has(c)) problems.push(`no README example for check ${c.match}`);
    }
    assert.deepEqual(problems, []);

    const failures: string[] = [];
    const ran: string[] = [];
    for (let i = 0; i < plan.length; i++) {
      // An example whose check says `withNext` runs side by side with the next one (the two
      // shards of one run, say).
      const group = plan[i]!.check.withNext ? [plan[i]!, plan[++i]!] : [plan[i]!];
      const runs = group.map(({ e, check }) => ({ e, check, ...substitute(e, check, ctx) }));
      const results: Array<Run | undefined> = [];
      try {
        for (const g of runs) await g.check.before?.(ctx);
        results.push(
          ...await Promise.all(runs.map(({ e, check, command, prelude }) =>
            runExample(
              command,
              prelude,
              check.inRepo ? ROOT : e.cd ? `${tmp}/${e.cd}` : tmp,
              check.during ? (w) => check.during!(ctx, w) : undefined,
            )
          )),
        );
      } catch (err) {
        failures.push(`README:${runs[0]!.e.line}: ${(err as Error).message}`);
        continue;
      }
      for (const [k, { e, check, command }] of runs.entries()) {
        const r = results[k]!;
        if (Deno.env.get("README_TEST_VERBOSE")) {
          const head = `--- README:${e.line} ${command} -> ${r.code} in ${
            r.elapsedMs.toFixed(0)
          } ms`;
          Deno.stderr.writeSync(new TextEncoder().encode(`${head}\n${r.stdout}${r.stderr}`));
        }
        try {
          assert.ok((check.codes ?? [0]).includes(r.code), `exit ${r.code}`);
          await check.expect(r, ctx);
          ran.push(`README:${e.line} ok in ${(r.elapsedMs / 1000).toFixed(1)} s`);
        } catch (err) {
          failures.push(
            `README:${e.line} \`${e.command}\`\n  ran: ${command}\n  ${(err as Error).message}\n` +
              `  stdout: ${r.stdout.slice(-1500)}\n  stderr: ${r.stderr.slice(-1500)}`,
          );
        }
      }
    }
    assert.deepEqual(failures, [], failures.join("\n\n"));
    assert.equal(ran.length, examples.filter((e) => e.notRun === undefined).length);
    assert.deepEqual(SUBSTITUTIONS.filter((s) => !usedSubstitutions.has(s)), []);
  } finally {
    await Deno.remove(tmp, { recursive: true });
    await Deno.remove(certs, { recursive: true });
  }
});
