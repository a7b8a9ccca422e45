/**
 * Scenario files outside this repository: {@linkcode runScenarioFile} runs a TypeScript file in a
 * child Deno with the bare specifier `membench` resolved to this library (as `k6 run` provides
 * `k6`), so that an application repository can keep `import { scenario } from "membench"` files
 * without a copy of membench. The library's npm dependencies resolve from this repository's
 * `node_modules` (its `deno.json` is the child's configuration); `membench` and `membench/…`
 * come from a generated import map.
 *
 * @module
 */
import { errorMessage, MembenchError } from "../errors/mod.ts";

/** Options of {@linkcode runScenarioFile}. */
export interface ScenarioFileOptions {
  /** Arguments the scenario sees as `Deno.args`. @default none */
  args?: readonly string[];
  /** Environment variables set for the scenario (`MEMBENCH_TARGET`, …), over the inherited ones. */
  env?: Readonly<Record<string, string>>;
  /** Type-check the file (and what it imports) before running it (`deno run --check`). @default {false} */
  check?: boolean;
  /** Deno permission flags of the scenario. @default {["--allow-all"]} (scenarios start servers, write results) */
  permissions?: readonly string[];
  /**
   * Forward SIGINT, SIGTERM and SIGHUP to the scenario, which runs in a process group of its
   * own: the first Ctrl+C stops it cleanly (partial results kept, exit 130), a second ends it at
   * once, and the terminal's Ctrl+C reaches it once, not twice. @default {true}
   */
  forwardSignals?: boolean;
  /** Output of the scenario: the terminal's, or piped and returned. @default {"inherit"} */
  stdout?: "inherit" | "piped";
  /** The Deno executable. @default `MEMBENCH_DENO`, else the running Deno (`Deno.execPath()`) */
  deno?: string;
}

/** How a scenario file ended. */
export interface ScenarioFileResult {
  /** The scenario's exit code (0 passed, 2 bad options, 3 connection, 4 failed, 130 Ctrl+C, …). */
  code: number;
  /** The signal that ended it, if one did (a second Ctrl+C). */
  signal: Deno.Signal | null;
  /** Its standard output and error, when `stdout` is `"piped"`. */
  stdout?: string;
  /** Its standard error, when `stdout` is `"piped"`. */
  stderr?: string;
}

/** The library's folder and its `mod.ts`, as file URLs. */
function libraryRoot(): URL {
  return new URL("../../", import.meta.url);
}

/**
 * The import map a scenario file runs with: `membench` (this library's `mod.ts`), `membench/`
 * (its files, as `membench/lib/scenario/mod.ts`) and the library's own bare specifiers from its
 * `deno.json`.
 *
 * @throws {MembenchError} `invalid_argument` when this membench does not run from its source
 * files (a compiled binary or a remote import), which a child Deno could import.
 */
export function scenarioImportMap(): { imports: Record<string, string> } {
  const root = libraryRoot();
  const hint =
    "run membench from its source (deno task membench run FILE.ts), or import the published " +
    "package in the scenario and run it with deno run -A FILE.ts";
  if (root.protocol !== "file:") {
    throw new MembenchError(
      "invalid_argument",
      `Cannot run scenario files with membench loaded from ${root.href}: its files are not local`,
      { hint },
    );
  }
  let config: { imports?: Record<string, string> };
  try {
    Deno.statSync(new URL("mod.ts", root));
    config = JSON.parse(Deno.readTextFileSync(new URL("deno.json", root)));
  } catch (e) {
    throw new MembenchError(
      "invalid_argument",
      `Cannot run scenario files with this membench: ${
        decodeURIComponent(root.pathname)
      } has no readable mod.ts and deno.json (${errorMessage(e)})`,
      { hint },
    );
  }
  const imports: Record<string, string> = {};
  for (const [k, v] of Object.entries(config.imports ?? {})) {
    imports[k] = /^\.\.?\//.test(v) ? new URL(v, root).href : v;
  }
  imports["membench"] = new URL("mod.ts", root).href;
  imports["membench/"] = root.href;
  return { imports };
}

const FORWARDED: readonly Deno.Signal[] = ["SIGINT", "SIGTERM", "SIGHUP"];

/**
 * Runs a scenario file in a child Deno, with `import … from "membench"` resolved to this
 * library, and returns its exit code. The file may live anywhere (an application's repository,
 * a temporary folder); it runs in the current folder, so its `results/` land there.
 *
 * @throws {MembenchError} `file` when the file does not exist; `invalid_argument` when this
 * membench cannot provide its library (see {@linkcode scenarioImportMap}).
 *
 * @example Usage
 * ```ts ignore
 * import { runScenarioFile } from "./mod.ts";
 * const { code } = await runScenarioFile("loadtests/cache.ts", { env: { MEMBENCH_SEED: "1" } });
 * ```
 */
export async function runScenarioFile(
  file: string,
  options: ScenarioFileOptions = {},
): Promise<ScenarioFileResult> {
  if (typeof file !== "string" || file === "") {
    throw new MembenchError("invalid_argument", "Cannot run a scenario: no file given");
  }
  try {
    const st = await Deno.stat(file);
    if (!st.isFile) throw new Error("not a file");
  } catch (e) {
    throw new MembenchError(
      "file",
      `Cannot run scenario ${file}: ${
        e instanceof Deno.errors.NotFound ? "no such file" : errorMessage(e)
      }`,
    );
  }
  const map = scenarioImportMap();
  const root = libraryRoot();
  const mapFile = await Deno.makeTempFile({ prefix: "membench-imports-", suffix: ".json" });
  const signals = options.forwardSignals !== false;
  const piped = options.stdout === "piped";
  const forward: Array<[Deno.Signal, () => void]> = [];
  try {
    await Deno.writeTextFile(mapFile, JSON.stringify(map, null, 2));
    const args = [
      "run",
      ...(options.check ? ["--check"] : []),
      // The library's configuration: its compiler options and its node_modules for npm imports.
      "--config",
      decodeURIComponent(new URL("deno.json", root).pathname),
      "--import-map",
      mapFile,
      "--no-lock",
      ...(options.permissions ?? ["--allow-all"]),
      file,
      ...(options.args ?? []),
    ];
    const deno = options.deno ?? envValue("MEMBENCH_DENO") ?? Deno.execPath();
    const child = new Deno.Command(deno, {
      args,
      env: { ...options.env },
      stdin: "inherit",
      stdout: piped ? "piped" : "inherit",
      stderr: piped ? "piped" : "inherit",
      // Its own process group: the terminal's Ctrl+C reaches this process only, which forwards
      // it once (with the child in our group it would get the terminal's and ours: two).
      detached: signals,
    }).spawn();
    if (signals) {
      for (const sig of FORWARDED) {
        const f = () => {
          try {
            child.kill(sig);
          } catch {
            // already gone
          }
        };
        Deno.addSignalListener(sig, f);
        forward.push([sig, f]);
      }
    }
    if (piped) {
      const out = await child.output();
      const dec = new TextDecoder();
      return {
        code: out.code,
        signal: out.signal,
        stdout: dec.decode(out.stdout),
        stderr: dec.decode(out.stderr),
      };
    }
    const status = await child.status;
    return { code: status.code, signal: status.signal };
  } catch (e) {
    if (e instanceof MembenchError) throw e;
    throw new MembenchError("invalid_argument", `Cannot run scenario ${file}: ${errorMessage(e)}`, {
      hint: "set MEMBENCH_DENO to a Deno executable",
    });
  } finally {
    for (const [sig, f] of forward) Deno.removeSignalListener(sig, f);
    await Deno.remove(mapFile).catch(() => {});
  }
}

function envValue(name: string): string | undefined {
  try {
    return Deno.env.get(name) || undefined;
  } catch {
    return undefined;
  }
}
