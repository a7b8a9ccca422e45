/**
 * Shared by the bench scripts that run membench and redis-benchmark side by side: the same
 * workload flags for both tools, one run of each, and the median of rounds.
 */

/** One benchmark configuration. */
export interface AnchorConfig {
  clients: number;
  pipeline: number;
  requests: number;
}

/** Runs a command; its stdout, or an error with its stderr. */
export async function run(cmd: string, args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  const text = new TextDecoder().decode(out.stdout);
  if (out.code !== 0) {
    throw new Error(
      `${cmd} ${args.join(" ")} failed (${out.code}): ${new TextDecoder().decode(out.stderr)}`,
    );
  }
  return text;
}

/** The flags both tools get, so that they run the same workload (`extra` first: `--cluster`). */
export function sameSettings(
  port: number,
  test: string,
  c: AnchorConfig,
  keyspace: string,
  extra: string[] = [],
): string[] {
  return [
    extra,
    ["-p", String(port)],
    ["-c", String(c.clients)],
    ["-P", String(c.pipeline)],
    ["-n", String(c.requests)],
    ["-r", keyspace],
    ["-d", "3"],
    ["-t", test],
  ].flat();
}

/** redis-benchmark's requests/s for `test` with these settings. */
export async function redisBenchmarkOps(settings: string[], test: string): Promise<number> {
  const csv = await run("redis-benchmark", [...settings, "--csv"]);
  const line = csv.trim().split("\n").find((l) =>
    l.toUpperCase().startsWith(`"${test.toUpperCase()}"`)
  );
  if (!line) throw new Error(`redis-benchmark printed no ${test} line: ${csv}`);
  return Number(line.split(",")[1]!.replace(/"/g, ""));
}

/** membench bench's ops/s for its first test; a run with errors is refused. */
export async function membenchOps(args: string[]): Promise<number> {
  const json = await run(Deno.execPath(), [
    "run",
    "-A",
    new URL("../cli/main.ts", import.meta.url).pathname,
    "bench",
    ...args,
    "--json",
    "-",
  ]);
  const t = JSON.parse(json).tests[0];
  if (t.errors > 0) throw new Error(`membench counted ${t.errors} errors`);
  return t.opsPerSec;
}

/** The median. */
export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}
