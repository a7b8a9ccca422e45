import assert from "node:assert/strict";
import {
  parseCommandStats,
  parseInfo,
  parseTarget,
  type RespArg,
  RespConnection,
  type RespValue,
} from "../mod.ts";

/** Runs a command on a server and returns its text reply. */
export async function redisText(
  address: string,
  args: RespArg[],
  password?: string,
): Promise<string> {
  const target = parseTarget(address);
  if (password !== undefined) target.password = password;
  const c = await RespConnection.open(target);
  try {
    return await c.text(args);
  } finally {
    c.close();
  }
}

/** INFO commandstats as calls per command. */
export async function commandStats(
  address: string,
  password?: string,
): Promise<Record<string, number>> {
  return parseCommandStats(await redisText(address, ["INFO", "commandstats"], password));
}

/** Per-command call deltas between two snapshots, without the commands the test itself sent. */
export function statsDelta(
  before: Record<string, number>,
  after: Record<string, number>,
  ignore: string[] = [
    "info",
    "auth",
    "hello",
    "client|setname",
    "select",
    "command",
    "command|docs",
  ],
): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    if (ignore.includes(k)) continue;
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = d;
  }
  return out;
}

/** INFO section as key/values. */
export async function info(address: string, section: string): Promise<Record<string, string>> {
  const text = await redisText(address, ["INFO", section]);
  return parseInfo(text)[section] ?? {};
}

/** Runs the CLI as a subprocess; returns exit code and output. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/main.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
    env,
  }).output();
  const td = new TextDecoder();
  return { code: out.code, stdout: td.decode(out.stdout), stderr: td.decode(out.stderr) };
}

/**
 * Starts the CLI as a subprocess and reads its output as it comes: `waitFor` resolves when
 * stderr shows a pattern (a "listening" line, say), `done` gives the exit code and the output.
 */
export function startCli(
  args: string[],
  env: Record<string, string> = {},
): {
  waitFor(re: RegExp, timeoutMs?: number): Promise<void>;
  done(): Promise<{ code: number; stdout: string; stderr: string }>;
  child: Deno.ChildProcess;
} {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../cli/main.ts", import.meta.url).pathname, ...args],
    stdout: "piped",
    stderr: "piped",
    env,
  }).spawn();
  let stdout = "", stderr = "";
  const waiters: Array<{ re: RegExp; resolve: () => void }> = [];
  const pump = async (stream: ReadableStream<Uint8Array>, err: boolean) => {
    for await (const text of stream.pipeThrough(new TextDecoderStream())) {
      if (err) stderr += text;
      else stdout += text;
      for (const w of waiters.splice(0)) {
        if (w.re.test(stderr)) w.resolve();
        else waiters.push(w);
      }
    }
  };
  const pumps = Promise.all([pump(child.stdout, false), pump(child.stderr, true)]);
  return {
    child,
    waitFor(re, timeoutMs = 30_000) {
      if (re.test(stderr)) return Promise.resolve();
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`no ${re} on stderr within ${timeoutMs} ms: ${stderr}`)),
          timeoutMs,
        );
        waiters.push({
          re,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    },
    async done() {
      const { code } = await child.status;
      await pumps;
      return { code, stdout, stderr };
    },
  };
}

/** Polls `ready` every 50 ms until it holds (a server saw traffic, say); fails after `timeoutMs`. */
export async function until(
  what: string,
  ready: () => Promise<boolean>,
  timeoutMs = 30_000,
): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!(await ready())) {
    if (Date.now() > end) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

let lockDepth = 0;

/**
 * Runs `fn` while holding a machine-wide lock shared by the tests that load the CPU hard and the
 * tests that measure timing, so that on a 2-core machine a saturating bench in one test file
 * cannot make another file's schedule late (`--parallel` runs files side by side). Re-entrant
 * within one test file (its tests run one at a time).
 */
export async function exclusiveLoad<T>(fn: () => Promise<T>): Promise<T> {
  if (lockDepth > 0) {
    lockDepth++;
    try {
      return await fn();
    } finally {
      lockDepth--;
    }
  }
  const f = await Deno.open("/tmp/membench-tests-load.lock", { create: true, write: true });
  try {
    await f.lock(true);
    lockDepth++;
    try {
      return await fn();
    } finally {
      lockDepth--;
    }
  } finally {
    f.close(); // closing releases the lock
  }
}

/**
 * A test that drives load at full speed or measures timing: it runs under
 * {@linkcode exclusiveLoad}, never beside another such test of another file.
 */
export function loadTest(name: string, fn: () => Promise<void>): void {
  Deno.test(name, () => exclusiveLoad(fn));
}

/** A command the server saw, as `redis-cli monitor` printed it: the client and the arguments. */
export interface Monitored {
  client: string;
  args: string[];
  /** The server's timestamp of the command (seconds, microsecond precision). */
  at: number;
}

/**
 * Watches a Redis server with `redis-cli monitor` (the server's own account of what it
 * executed, in order) until `stop()`, which sends a marker and returns every command seen
 * before it.
 */
export async function monitor(address: string): Promise<{ stop(): Promise<Monitored[]> }> {
  const [host, port] = [
    address.slice(0, address.lastIndexOf(":")),
    address.slice(address.lastIndexOf(":") + 1),
  ];
  const child = new Deno.Command("redis-cli", {
    args: ["-h", host, "-p", port, "monitor"],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  const seen: Monitored[] = [];
  const marker = `membench-test-marker-${crypto.randomUUID()}`;
  // Reads lines until `until` says stop.
  async function readUntil(until: (line: string) => boolean): Promise<void> {
    for (;;) {
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl).trimEnd();
        buf = buf.slice(nl + 1);
        if (until(line)) return;
      }
      const { value, done } = await lines.read();
      if (done) throw new Error(`redis-cli monitor ended before ${marker}`);
      buf += value;
    }
  }
  await readUntil((l) => l === "OK");
  return {
    async stop() {
      await redisText(address, ["ECHO", marker]);
      await readUntil((line) => {
        const m = /^(\d+\.\d+) \[\d+ ([^\]]+)\] (.*)$/.exec(line);
        if (!m) return false;
        const args = [...m[3]!.matchAll(/"((?:[^"\\]|\\.)*)"/g)].map((a) => a[1]!);
        if (args[1] === marker) return true;
        seen.push({ client: m[2]!, args, at: Number(m[1]) });
        return false;
      });
      child.kill();
      await lines.cancel().catch(() => {});
      await child.status;
      return seen;
    },
  };
}

// Opens a page in headless Chromium; returns the DOM after load and what the browser logged.
export async function chromium(file: string): Promise<{ dom: string; log: string }> {
  const dir = await Deno.makeTempDir();
  try {
    const out = await new Deno.Command("chromium", {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        `--user-data-dir=${dir}`,
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        `file://${file}`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    return { dom: new TextDecoder().decode(out.stdout), log: new TextDecoder().decode(out.stderr) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/** Runs a command on a server and returns its reply as decoded. */
export async function redisCommand(address: string, args: RespArg[]): Promise<RespValue> {
  const c = await RespConnection.open(parseTarget(address));
  try {
    return await c.command(args);
  } finally {
    c.close();
  }
}

/** Debian's Python (numpy, scipy, h5py): `python3` on PATH may be another interpreter. */
/**
 * Runs a real client's script under Node (the npm clients are Node libraries; the `memcached`
 * client does not run under Deno), with PORT set, from the repository root so that `require`
 * finds node_modules; bounded to 60 s.
 */
export async function runNodeClient(script: string, port: number): Promise<void> {
  const out = await new Deno.Command("node", {
    args: ["-e", script],
    cwd: new URL("..", import.meta.url).pathname,
    env: { PORT: String(port) },
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(60_000),
  }).output();
  if (out.code !== 0) {
    throw new Error(`node client failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Moves `slots` slots of a loopback cluster from one node to another with `redis-cli --cluster
 * reshard` (live: clients may be running); throws with redis-cli's words when it fails.
 */
export async function reshard(
  seed: string,
  fromId: string,
  toId: string,
  slots: number,
): Promise<void> {
  const out = await new Deno.Command("redis-cli", {
    args: [
      "--cluster",
      "reshard",
      seed,
      "--cluster-from",
      fromId,
      "--cluster-to",
      toId,
      "--cluster-slots",
      String(slots),
      "--cluster-yes",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!out.success) {
    const td = new TextDecoder();
    throw new Error(
      `reshard failed: ${td.decode(out.stderr)} ${td.decode(out.stdout).slice(-400)}`,
    );
  }
}

/**
 * Scale-out of a loopback cluster while clients run: `redis-cli --cluster add-node` of a spare
 * node, then (once every node knows it and it sees the cluster ok) a reshard of `slots` slots
 * from all primaries to it. Returns the new node's id; throws with redis-cli's words on failure.
 */
export async function scaleOut(
  seed: string,
  nodePorts: number[],
  spare: { address: string; port: number },
  slots: number,
): Promise<string> {
  const cli = (args: string[]) =>
    new Deno.Command("redis-cli", { args, stdin: "null", stdout: "piped", stderr: "piped" })
      .output();
  const td = new TextDecoder();
  const add = await cli(["--cluster", "add-node", spare.address, seed]);
  if (!add.success) throw new Error(`add-node failed: ${td.decode(add.stdout).slice(-400)}`);
  const id = td.decode((await cli(["-p", String(spare.port), "CLUSTER", "MYID"])).stdout).trim();
  // The others learn of the new node through the cluster bus: reshard once every node knows
  // it and it knows the slots (a reshard started earlier fails midway, leaving a slot open).
  for (let i = 0; i < 50; i++) {
    const views = await Promise.all(
      nodePorts.map((p) => cli(["-p", String(p), "CLUSTER", "NODES"])),
    );
    const state = td.decode((await cli(["-p", String(spare.port), "CLUSTER", "INFO"])).stdout);
    if (
      views.every((v) => td.decode(v.stdout).includes(id)) && state.includes("cluster_state:ok")
    ) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  await new Promise((r) => setTimeout(r, 300));
  const out = await cli([
    "--cluster",
    "reshard",
    seed,
    "--cluster-from",
    "all",
    "--cluster-to",
    id,
    "--cluster-slots",
    String(slots),
    "--cluster-yes",
  ]);
  if (!out.success) {
    const said = td.decode(out.stdout).split("\n").filter((l) => !l.includes("Moving slot"))
      .slice(-4).join(" | ");
    throw new Error(`reshard to the new node did not succeed: ${said}`);
  }
  return id;
}

export const PY = "/usr/bin/python3";

/** Runs a Python script with arguments; returns its stdout (fails the test on a non-zero exit). */
export async function python(script: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(PY, {
    args: ["-c", script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(
    out.code,
    0,
    `python failed (these tests need Debian's python3-numpy, python3-scipy and python3-h5py): ${
      new TextDecoder().decode(out.stderr)
    }`,
  );
  return new TextDecoder().decode(out.stdout);
}

/** Runs a Python script on `input` (its stdin); returns its stdout. */
export async function pythonStdin(script: string, input: string): Promise<string> {
  const py = new Deno.Command(PY, {
    args: ["-c", script],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const w = py.stdin.getWriter();
  await w.write(new TextEncoder().encode(input));
  await w.close();
  const out = await py.output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  return new TextDecoder().decode(out.stdout);
}
