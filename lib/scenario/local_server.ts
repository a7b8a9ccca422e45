import { MembenchError } from "../errors/mod.ts";

/** Options for {@linkcode startLocalServer}. */
export interface LocalServerOptions {
  /** Extra command-line arguments for the server (`["--requirepass", "x"]`). */
  args?: string[];
  /** Port; a free loopback port when absent. */
  port?: number;
  /** How long to wait for the server to accept connections. @default {10000} */
  startTimeoutMs?: number;
  /** Extra environment variables for the server (`SASL_CONF_PATH` for memcached -S). */
  env?: Record<string, string>;
  /**
   * Modules to load into `redis-server` (`--loadmodule path args…`), such as a search module:
   * `[{ path: "/opt/redisearch.so", args: ["DEFAULT_DIALECT", "2"] }]`.
   */
  modules?: LocalServerModule[];
}

/** A module for {@linkcode startLocalServer}: its shared library and its arguments. */
export interface LocalServerModule {
  /** Path of the module's shared library (`.so`). */
  path: string;
  /** Module arguments, after the path. */
  args?: string[];
}

// `--loadmodule` arguments, each module's file checked first so that a typo is named plainly.
async function moduleArgs(
  kind: string,
  modules: LocalServerModule[] | undefined,
): Promise<string[]> {
  if (modules === undefined || modules.length === 0) return [];
  if (kind !== "redis") {
    throw new MembenchError(
      "invalid_argument",
      `Cannot load modules into ${kind}: only redis-server takes modules (--loadmodule)`,
    );
  }
  const out: string[] = [];
  for (const [i, m] of modules.entries()) {
    if (m === null || typeof m !== "object" || typeof m.path !== "string" || m.path === "") {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use module ${i}: expected { path, args? }: current value is ${JSON.stringify(m)}`,
      );
    }
    if (
      m.args !== undefined && (!Array.isArray(m.args) || m.args.some((a) => typeof a !== "string"))
    ) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot use the arguments of module ${m.path}: expected a list of strings`,
      );
    }
    let st: Deno.FileInfo;
    try {
      st = await Deno.stat(m.path);
    } catch (e) {
      throw new MembenchError(
        "invalid_argument",
        `Cannot load module ${m.path}: ${
          e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message
        }`,
      );
    }
    if (!st.isFile) {
      throw new MembenchError("invalid_argument", `Cannot load module ${m.path}: not a file`);
    }
    out.push("--loadmodule", m.path, ...(m.args ?? []));
  }
  return out;
}

/** A server process started by membench on 127.0.0.1; stop it with `await using` or `stop()`. */
export interface LocalServer extends AsyncDisposable {
  /** `redis` or `memcached`. */
  kind: "redis" | "memcached";
  /** 127.0.0.1 */
  host: string;
  /** Port it listens on. */
  port: number;
  /** `127.0.0.1:port` */
  address: string;
  /** The process id. */
  pid: number;
  /** Stops the server and waits for it to exit. Safe to call twice. */
  stop(): Promise<void>;
}

const BINARIES = {
  redis: { bin: "redis-server", pkg: "redis-server (Debian/Ubuntu: apt-get install redis-server)" },
  memcached: { bin: "memcached", pkg: "memcached (Debian/Ubuntu: apt-get install memcached)" },
};

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Starts `redis-server` or `memcached` from the machine's binaries on a free loopback port, with
 * persistence off and the `modules` loaded (redis), and waits until it accepts connections.
 *
 * @throws {MembenchError} `invalid_argument` naming the package to install when the binary is
 *   missing, or a module file that does not exist; `connection` when it does not start in time
 *   (a module that fails to load ends the server: its last lines of stderr are in the message).
 */
export async function startLocalServer(
  kind: "redis" | "memcached",
  options: LocalServerOptions = {},
): Promise<LocalServer> {
  const { bin, pkg } = BINARIES[kind];
  const timeoutMs = options.startTimeoutMs ?? 10_000;
  const loadModules = await moduleArgs(kind, options.modules);
  for (let attempt = 0;; attempt++) {
    const port = options.port ?? freePort();
    const args = kind === "redis"
      ? [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        // A replica (--replicaof) loads its primary's data from the socket: with a disk-based
        // load it would write dump.rdb into the working directory, whatever that is.
        "--repl-diskless-load",
        "swapdb",
        ...loadModules,
        ...(options.args ?? []),
      ]
      : [
        "-p",
        String(port),
        "-l",
        "127.0.0.1",
        "-U",
        "0",
        ...(process_user()),
        ...(options.args ?? []),
      ];
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(bin, {
        args,
        stdin: "null",
        stdout: "null",
        stderr: "piped",
        ...(options.env ? { env: options.env } : {}),
      }).spawn();
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        throw new MembenchError(
          "invalid_argument",
          `Cannot start ${bin}: it is not installed; install ${pkg}`,
        );
      }
      throw e;
    }
    const stderrText = new Response(child.stderr).text();
    const exited = child.status.then((s) => s);
    const deadline = Date.now() + timeoutMs;
    let up = false;
    let early: Deno.CommandStatus | undefined;
    exited.then((s) => early = s);
    while (Date.now() < deadline && early === undefined) {
      try {
        const c = await Deno.connect({ hostname: "127.0.0.1", port });
        c.close();
        up = true;
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    if (!up) {
      try {
        child.kill("SIGKILL");
      } catch { /* gone */ }
      await exited;
      const err = (await stderrText).trim().split("\n").slice(-3).join(" | ");
      // Another process may have taken the port in between: try another one.
      if (options.port === undefined && attempt < 3 && /in use|bind/i.test(err)) continue;
      throw new MembenchError(
        "connection",
        `Cannot start ${bin} on 127.0.0.1:${port}: ${
          early ? `it exited with code ${early.code}` : "no answer in time"
        }${err ? `: ${err}` : ""}`,
      );
    }
    let stopped = false;
    const stop = async () => {
      if (stopped) return;
      stopped = true;
      try {
        child.kill("SIGTERM");
      } catch { /* already gone */ }
      const t = setTimeout(() => {
        try {
          child.kill("SIGKILL");
        } catch { /* gone */ }
      }, 3000);
      await exited;
      clearTimeout(t);
      await stderrText;
    };
    return {
      kind,
      host: "127.0.0.1",
      port,
      address: `127.0.0.1:${port}`,
      pid: child.pid,
      stop,
      [Symbol.asyncDispose]: stop,
    };
  }
}

// memcached refuses to run as root without -u.
function process_user(): string[] {
  return Deno.uid?.() === 0 ? ["-u", "root"] : [];
}

/** Options for {@linkcode startLocalCluster}. */
export interface LocalClusterOptions {
  /** Primaries (3 at least, as `redis-cli --cluster create` wants). @default {3} */
  primaries?: number;
  /** Replicas per primary. @default {0} */
  replicas?: number;
  /** `cluster-node-timeout`: how soon a dead primary is failed over. @default {1000} */
  nodeTimeoutMs?: number;
  /** Extra `redis-server` arguments for every node. */
  args?: string[];
  /** How long to wait for `cluster_state:ok`. @default {30000} */
  startTimeoutMs?: number;
  /**
   * Spare nodes: started with cluster mode on but not joined, for a scale-out during a run
   * (`redis-cli --cluster add-node`, then a reshard to it). @default {0}
   */
  spares?: number;
}

/** A loopback cluster of `redis-server` processes; stop it with `await using` or `stop()`. */
export interface LocalCluster extends AsyncDisposable {
  /** Every node, the primaries first (as `redis-cli --cluster create` assigned them). */
  nodes: LocalServer[];
  /** `127.0.0.1:port` of every node. */
  addresses: string[];
  /** The first node's address: a seed. */
  address: string;
  /** The spare nodes (not in the cluster until added). */
  spares: LocalServer[];
  /** Stops every node and removes their folder. Safe to call twice. */
  stop(): Promise<void>;
}

/**
 * Starts a loopback Redis cluster: `primaries × (1 + replicas)` `redis-server` processes with
 * `cluster-enabled yes` on free ports, joined by `redis-cli --cluster create … --cluster-yes`;
 * resolves once every node reports `cluster_state:ok` and knows every other node.
 *
 * @throws {MembenchError} `invalid_argument` for fewer than 3 primaries or a missing binary;
 *   `connection` when the cluster does not form in time.
 */
export async function startLocalCluster(options: LocalClusterOptions = {}): Promise<LocalCluster> {
  const primaries = options.primaries ?? 3;
  const replicas = options.replicas ?? 0;
  if (!Number.isInteger(primaries) || primaries < 3 || primaries > 32) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot start a cluster with ${primaries} primaries: must be an integer from 3 to 32`,
    );
  }
  if (!Number.isInteger(replicas) || replicas < 0 || replicas > 4) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot start a cluster with ${replicas} replicas per primary: must be an integer from 0 to 4`,
    );
  }
  const spareCount = options.spares ?? 0;
  if (!Number.isInteger(spareCount) || spareCount < 0 || spareCount > 8) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot start a cluster with ${spareCount} spare nodes: must be an integer from 0 to 8`,
    );
  }
  const dir = await Deno.makeTempDir({ prefix: "membench-cluster-" });
  const nodes: LocalServer[] = [];
  const spares: LocalServer[] = [];
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await Promise.allSettled([...nodes, ...spares].map((n) => n.stop()));
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  try {
    const count = primaries * (1 + replicas);
    for (let i = 0; i < count + spareCount; i++) {
      const nodeDir = `${dir}/${i}`;
      await Deno.mkdir(nodeDir);
      (i < count ? nodes : spares).push(
        await startLocalServer("redis", {
          args: [
            "--cluster-enabled",
            "yes",
            "--cluster-config-file",
            `${nodeDir}/nodes.conf`,
            "--cluster-node-timeout",
            String(options.nodeTimeoutMs ?? 1000),
            "--cluster-port",
            String(freePort()),
            "--dir",
            nodeDir,
            ...(options.args ?? []),
          ],
        }),
      );
    }
    const create = await new Deno.Command("redis-cli", {
      args: [
        "--cluster",
        "create",
        ...nodes.map((n) => n.address),
        "--cluster-replicas",
        String(replicas),
        "--cluster-yes",
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output().catch((e) => {
      if (e instanceof Deno.errors.NotFound) {
        throw new MembenchError(
          "invalid_argument",
          "Cannot create a cluster: redis-cli is not installed; install redis-tools",
        );
      }
      throw e;
    });
    if (!create.success) {
      const out = new TextDecoder().decode(create.stdout) + new TextDecoder().decode(create.stderr);
      throw new MembenchError(
        "connection",
        `Cannot create the cluster: redis-cli --cluster create failed: ${
          out.trim().split("\n").slice(-3).join(" | ")
        }`,
      );
    }
    const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
    for (const n of nodes) {
      for (;;) {
        const info = await redisCli(n.port, ["CLUSTER", "INFO"]);
        const known = /cluster_known_nodes:(\d+)/.exec(info);
        if (info.includes("cluster_state:ok") && Number(known?.[1]) === count) break;
        if (Date.now() > deadline) {
          throw new MembenchError(
            "connection",
            `Cannot start the cluster: ${n.address} did not reach cluster_state:ok in time`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    // Replicas must have synchronised before a test may count on them.
    for (const n of nodes) {
      for (;;) {
        const info = await redisCli(n.port, ["INFO", "replication"]);
        if (!info.includes("role:slave") || info.includes("master_link_status:up")) break;
        if (Date.now() > deadline) {
          throw new MembenchError(
            "connection",
            `Cannot start the cluster: replica ${n.address} did not synchronise in time`,
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    nodes,
    addresses: nodes.map((n) => n.address),
    address: nodes[0]!.address,
    spares,
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

async function redisCli(port: number, args: string[]): Promise<string> {
  const r = await new Deno.Command("redis-cli", {
    args: ["-h", "127.0.0.1", "-p", String(port), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).output();
  return new TextDecoder().decode(r.stdout);
}
