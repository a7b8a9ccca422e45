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
