/**
 * Declarative flags. Each flag is written once, as a spec (name, short alias, type, default, help
 * line, value name, parser); a command's spec list then gives the `parseArgs` options, the help
 * text and a typed object of values. Every problem of a command line (an unknown flag, a missing
 * value, a bad value, a missing required flag) is collected, so that all of them are reported
 * together.
 *
 * ```ts ignore
 * const FLAGS = { clients: int({ short: "c", value: "N", min: 1, help: "connections" }) };
 * const problems = new Problems();
 * const { values } = parseFlags(FLAGS, ["-c", "8"], problems);
 * values.clients; // 8, typed number | undefined
 * ```
 *
 * @module
 */
import { parseArgs, type ParseArgsConfig } from "node:util";
import { MembenchError, nearestName } from "../lib/errors/mod.ts";
import { parseDurationMs, parseRatePerSec, parseSize } from "../lib/units/mod.ts";

/**
 * Thrown by a flag's parser for a value it cannot take: the message says what was expected
 * ("expected an integer >= 1"); the parser adds the flag and the value given.
 */
export class BadValue extends Error {}

/** What every flag spec may say. */
export interface FlagOptions {
  /** The long name without dashes; default: the key in kebab-case (`dataSize` -> `data-size`). */
  name?: string;
  /** A one-character alias (`c` for `-c`). */
  short?: string;
  /** Other long names accepted for the same flag (memtier's `--test-time` for `--duration`). */
  aliases?: readonly string[];
  /** The value's name in the help (`N`, `FILE`); boolean flags have none. */
  value?: string;
  /** One help line (long lines are wrapped). */
  help: string;
  /** The help section the flag is listed under. */
  section?: string;
  /** A default, written as a user would write it; parsed as if given, and shown in the help. */
  default?: string | number;
  /** A default the library applies (shown in the help only). */
  defaultText?: string;
  /** The flag must be given. */
  required?: boolean;
  /** The flag may be repeated; the value is then the list of values given. */
  multiple?: boolean;
  /** An environment variable read when the flag is not given (`REDISCLI_AUTH`). */
  env?: string;
  /** The value is a secret: never shown in messages. */
  secret?: boolean;
  /** Added to "needs a value" when the flag is given without one (`--json` was a switch). */
  missingHint?: string;
}

declare const VALUE: unique symbol;

/** One flag: its spec and how its value is read. `V` is the type of its value. */
export interface Flag<V> {
  /** `parseArgs`' type. */
  readonly type: "string" | "boolean";
  /** The spec. */
  readonly spec: FlagOptions;
  /** Turns one value as given into the flag's value, or throws ({@linkcode BadValue}). */
  readonly parse: (raw: string) => unknown;
  /** The value's type, for {@linkcode Values} (never set). */
  readonly [VALUE]?: V;
}

/** A command's flags: property name -> flag. */
export type FlagSet = Record<string, Flag<unknown>>;

/** The typed values of a flag set. */
export type Values<F extends FlagSet> = { [K in keyof F]: F[K] extends Flag<infer V> ? V : never };

/** A flag's value type from its spec: a list when repeatable, defined when defaulted or required. */
type Out<T, O> = O extends { multiple: true } ? T[]
  : O extends { default: string | number } | { required: true } ? T
  : T | undefined;

function valueFlag<T, O extends FlagOptions>(o: O, parse: (raw: string) => T): Flag<Out<T, O>> {
  return { type: "string", spec: o, parse };
}

/** A string flag. */
export function text<const O extends FlagOptions>(o: O): Flag<Out<string, O>> {
  return valueFlag(o, (s) => s);
}

/** A boolean flag (`--tls`): true when given. */
export function bool(o: Omit<FlagOptions, "value" | "default" | "multiple">): Flag<boolean> {
  return { type: "boolean", spec: o, parse: () => true };
}

/** An integer flag, `min` (default 0) to `max`. */
export function int<const O extends FlagOptions & { min?: number; max?: number }>(
  o: O,
): Flag<Out<number, O>> {
  const min = o.min ?? 0;
  return valueFlag(o, (s) => {
    const n = Number(s.trim());
    if (!/^-?\d+$/.test(s.trim()) || n < min || (o.max !== undefined && n > o.max)) {
      throw new BadValue(
        o.max === undefined
          ? `expected an integer >= ${min}`
          : `expected an integer from ${min} to ${o.max}`,
      );
    }
    return n;
  });
}

/** A number flag, `>= min` (default 0) or `> above`. */
export function num<const O extends FlagOptions & { min?: number; above?: number }>(
  o: O,
): Flag<Out<number, O>> {
  return valueFlag(o, (s) => {
    const n = s.trim() === "" ? NaN : Number(s);
    if (o.above !== undefined ? !(n > o.above) : !(n >= (o.min ?? 0))) {
      throw new BadValue(
        o.above !== undefined
          ? `expected a number > ${o.above}`
          : `expected a number >= ${o.min ?? 0}`,
      );
    }
    return n;
  });
}

/** A duration flag (`"10s"`, `"1m30s"`, seconds as a bare number); the value is in ms. */
export function duration<const O extends FlagOptions>(o: O): Flag<Out<number, O>> {
  return valueFlag(o, (s) => parseDurationMs(s));
}

/** A size flag (`"64MiB"`, `"4k"`); the value is in bytes. */
export function size<const O extends FlagOptions>(o: O): Flag<Out<number, O>> {
  return valueFlag(o, (s) => parseSize(s));
}

/** A rate flag (`"50000"`, `"50k/s"`); the value is per second. */
export function rate<const O extends FlagOptions>(o: O): Flag<Out<number, O>> {
  return valueFlag(o, (s) => parseRatePerSec(s));
}

/**
 * One of `values`; `normalize` may first map what users write (`memcache_text`) onto them.
 */
export function oneOf<const U extends string, const O extends FlagOptions>(
  values: readonly U[],
  o: O & { normalize?: (raw: string) => string },
): Flag<Out<U, O>> {
  return valueFlag(o, (s) => {
    const v = o.normalize ? o.normalize(s) : s;
    if (!(values as readonly string[]).includes(v)) {
      throw new BadValue(`expected ${values.join(", ")}`);
    }
    return v as U;
  });
}

/** A comma-separated list (`ping,set,get`), trimmed, empty items dropped. */
export function list<const O extends FlagOptions>(o: O): Flag<Out<string[], O>> {
  return valueFlag(o, (s) => {
    const items = s.split(",").map((x) => x.trim()).filter(Boolean);
    if (items.length === 0) throw new BadValue("expected a comma-separated list");
    return items;
  });
}

/** A flag with a parser of its own (throw {@linkcode BadValue} or a `MembenchError`). */
export function custom<T, const O extends FlagOptions>(
  o: O,
  parse: (raw: string) => T,
): Flag<Out<T, O>> {
  return valueFlag(o, parse);
}

/** The same flag with another help line, section or shown default (a command's own wording). */
export function withSpec<V>(
  f: Flag<V>,
  spec: Partial<Pick<FlagOptions, "help" | "section" | "defaultText" | "value">>,
): Flag<V> {
  return { ...f, spec: { ...f.spec, ...spec } };
}

/**
 * `o` without its undefined properties: flag values -> library options, under
 * `exactOptionalPropertyTypes` (`{ db: v.dbnum, noreply: v.noreply || undefined }`).
 */
export function defined<T extends object>(o: T): { [K in keyof T]?: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as {
    [K in keyof T]?: Exclude<T[K], undefined>;
  };
}

/** A flag's long name. */
export function flagName(key: string, f: Flag<unknown>): string {
  return f.spec.name ?? key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/**
 * A library message in the command line's words: each quoted option name the library uses
 * (`'clusterTags'`) that is also a flag of `flags` becomes that flag (`'--cluster-tags'`).
 */
export function inFlagWords(message: string, flags: FlagSet): string {
  return message.replace(/'([a-z][A-Za-z0-9]*)'/g, (all, key: string) => {
    const f = Object.hasOwn(flags, key) ? flags[key] : undefined;
    return f === undefined ? all : `'--${flagName(key, f)}'`;
  });
}

/** Problems of a command line, collected and reported together. */
export class Problems {
  readonly #list: string[] = [];

  /** Adds one (a multi-line message adds each line). */
  add(message: string): void {
    for (const line of message.split("\n")) if (line.trim() !== "") this.#list.push(line);
  }

  /** Runs `f`; what it throws becomes a problem. */
  try<T>(f: () => T): T | undefined {
    try {
      return f();
    } catch (e) {
      this.add(errorText(e));
      return undefined;
    }
  }

  /** The problems so far. */
  get list(): readonly string[] {
    return this.#list;
  }

  /** Throws one `invalid_argument` error listing every problem, if there is one. */
  throwIfAny(): void {
    if (this.#list.length > 0) {
      throw new MembenchError("invalid_argument", [...new Set(this.#list)].join("\n"));
    }
  }
}

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** A command line read against a flag set. */
export interface ParsedArgs<F extends FlagSet> {
  /** Every flag's value (`undefined`, `false` or `[]` when not given and not defaulted). */
  values: Values<F>;
  /** Arguments that are not flags. */
  positionals: string[];
  /** Whether `--help` was given. */
  help: boolean;
  /** The flags given on the command line (or through their environment variable). */
  given: ReadonlySet<keyof F & string>;
}

/** `parseArgs` options for a flag set (with `--help`). */
export function parseArgsOptions(flags: FlagSet): NonNullable<ParseArgsConfig["options"]> {
  const options: NonNullable<ParseArgsConfig["options"]> = { help: { type: "boolean" } };
  for (const [key, f] of Object.entries(flags)) {
    const name = flagName(key, f);
    options[name] = {
      type: f.type,
      multiple: true,
      ...(f.spec.short !== undefined ? { short: f.spec.short } : {}),
    };
    for (const a of f.spec.aliases ?? []) options[a] = { type: f.type, multiple: true };
  }
  return options;
}

/**
 * Reads `argv` against `flags`. Never throws for a bad command line: every problem goes into
 * `problems` (see {@linkcode Problems.throwIfAny}), and each flag that could not be read is
 * left at its default.
 */
export function parseFlags<F extends FlagSet>(
  flags: F,
  argv: readonly string[],
  problems: Problems,
): ParsedArgs<F> {
  const byName = new Map<string, string>();
  const shortOf = new Map<string, string>();
  for (const [key, f] of Object.entries(flags)) {
    byName.set(flagName(key, f), key);
    for (const a of f.spec.aliases ?? []) byName.set(a, key);
    if (f.spec.short !== undefined) shortOf.set(f.spec.short, key);
  }
  const display = (key: string) => {
    const f = flags[key]!;
    return `${f.spec.short !== undefined ? `-${f.spec.short}, ` : ""}--${flagName(key, f)}`;
  };
  const raws = new Map<string, string[]>();
  const positionals: string[] = [];
  let help = false;
  const looksLikeFlag = (v: string) => {
    const long = /^--([^=]+)/.exec(v);
    if (long) return long[1] === "help" || byName.has(long[1]!);
    return /^-[^-\d]/.test(v) && shortOf.has(v[1]!);
  };
  // Not strict: parseArgs would stop at the first problem; the tokens are checked here instead.
  const scan = (args: string[]): void => {
    const { tokens } = parseArgs({
      args,
      options: parseArgsOptions(flags),
      strict: false,
      allowPositionals: true,
      tokens: true,
    });
    const skip = new Set<number>();
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i]!;
      if (t.kind === "positional") {
        if (!skip.has(t.index)) positionals.push(t.value);
        continue;
      }
      if (t.kind !== "option") continue;
      // `--help`, and `-h` where no flag of the command takes it (bench and replay keep `-h` as
      // redis-benchmark's host).
      if (t.name === "help" || (t.rawName === "-h" && !shortOf.has("h"))) {
        help = true;
        continue;
      }
      const key = byName.get(t.name);
      if (key === undefined) {
        const near = t.rawName.startsWith("--")
          ? nearestName(t.name, [...byName.keys(), "help"])
          : undefined;
        problems.add(`Unknown flag '${t.rawName}'${near ? ` (did you mean '--${near}'?)` : ""}`);
        // `--clinets 5`: the 5 is the unknown flag's value, not an argument of the command.
        const next = tokens[i + 1];
        if (t.value === undefined && next?.kind === "positional" && next.index === t.index + 1) {
          skip.add(next.index);
        }
        continue;
      }
      const f = flags[key]!;
      if (f.type === "boolean") {
        if (t.value !== undefined) problems.add(`Flag '${display(key)}' takes no value`);
        else raws.set(key, [...(raws.get(key) ?? []), ""]);
        continue;
      }
      const needs = `Flag '${display(key)}' needs a value${
        f.spec.missingHint ? `: ${f.spec.missingHint}` : ""
      }`;
      if (t.value === undefined) {
        problems.add(needs);
        continue;
      }
      if (!t.inlineValue && looksLikeFlag(t.value)) {
        // `-n --json -`: the flag has no value, and what it took is the next flag; read on from it.
        problems.add(needs);
        scan(args.slice(t.index + 1));
        return;
      }
      raws.set(key, [...(raws.get(key) ?? []), t.value]);
    }
  };
  // redis-benchmark's `-h HOST`: a `-h` with no value after it (last, or before another flag)
  // asks for help.
  const args = argv.map((a, i) =>
    a === "-h" && shortOf.has("h") && (i === argv.length - 1 || looksLikeFlag(argv[i + 1]!))
      ? "--help"
      : a
  );
  scan(args);
  const values: Record<string, unknown> = {};
  const given = new Set<keyof F & string>();
  for (const [key, f] of Object.entries(flags)) {
    const name = flagName(key, f);
    let raw = raws.get(key) ?? [];
    if (raw.length === 0 && f.spec.env !== undefined) {
      const env = Deno.env.get(f.spec.env);
      if (env !== undefined) raw = [env];
    }
    if (raw.length > 0) given.add(key as keyof F & string);
    if (f.type === "boolean") {
      values[key] = raw.length > 0;
      continue;
    }
    if (raw.length === 0) {
      if (f.spec.required) problems.add(`Flag '${display(key)}' is required`);
      if (f.spec.default !== undefined) raw = [String(f.spec.default)];
    }
    const read = (s: string): unknown => {
      try {
        return f.parse(s);
      } catch (e) {
        const shown = f.spec.secret ? "***" : JSON.stringify(s);
        problems.add(
          e instanceof BadValue
            ? `Cannot use flag '--${name}': ${e.message}: current value is ${shown}`
            : `Cannot use flag '--${name}': ${
              f.spec.secret ? errorText(e).replaceAll(s, "***") : errorText(e)
            }`,
        );
        return undefined;
      }
    };
    if (f.spec.multiple) {
      values[key] = raw.map(read).filter((x) => x !== undefined);
    } else {
      values[key] = raw.length > 0 ? read(raw[raw.length - 1]!) : undefined;
    }
  }
  return { values: values as Values<F>, positionals, help, given };
}

/** A command: its name, help prose and flags. */
export interface CommandSpec<F extends FlagSet> {
  /** `bench`, or `dataset generate` for a subcommand. */
  readonly name: string;
  /** One line: what the command does. */
  readonly summary: string;
  /** Usage lines, without `membench <name> `'s "Usage: " prefix. */
  readonly usage: readonly string[];
  /** Prose between the usage and the flags. */
  readonly about?: string;
  /** The flags. */
  readonly flags: F;
  /** The arguments it takes, exactly these (`["IN", "OUT"]`); unchecked when absent. */
  readonly args?: readonly string[];
  /** Prose after the flags (exit codes). */
  readonly footer?: string;
}

const WIDTH = 100;

/** `text` wrapped at spaces to lines of at most `width` (a longer word stands alone). */
export function wrapText(text: string, width: number): string[] {
  const out: string[] = [];
  for (const para of text.split("\n")) {
    let line = "";
    for (const word of para.split(" ")) {
      if (line !== "" && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else line = line === "" ? word : `${line} ${word}`;
    }
    out.push(line);
  }
  return out;
}

/** One flag's left column: `-c, --clients N` and its aliases. */
function flagLabel(key: string, f: Flag<unknown>): string {
  const v = f.spec.value !== undefined ? ` ${f.spec.value}` : "";
  const names = [flagName(key, f), ...(f.spec.aliases ?? [])].map((n) => `--${n}${v}`);
  return `${f.spec.short !== undefined ? `-${f.spec.short}, ` : "    "}${names.join(", ")}`;
}

/** One flag's help with what the spec adds: default, required, environment variable. */
function flagHelp(f: Flag<unknown>): string {
  const extra: string[] = [];
  const def = f.spec.defaultText ?? (f.spec.default !== undefined ? String(f.spec.default) : "");
  if (def !== "") extra.push(`default ${def}`);
  if (f.spec.required) extra.push("required");
  if (f.spec.env !== undefined) extra.push(`or set ${f.spec.env}`);
  return extra.length > 0 ? `${f.spec.help} (${extra.join("; ")})` : f.spec.help;
}

/**
 * The flags of a set as help lines, by section (in the order sections first appear), and the
 * `--help` line unless `withHelp` is false.
 */
export function formatFlags(flags: FlagSet, withHelp = true, defaultSection = "Flags"): string {
  const sections = new Map<string, Array<[string, Flag<unknown>]>>();
  for (const [key, f] of Object.entries(flags)) {
    const s = f.spec.section ?? defaultSection;
    sections.set(s, [...(sections.get(s) ?? []), [key, f]]);
  }
  const labels = Object.entries(flags).map(([k, f]) => flagLabel(k, f).length);
  const col = Math.min(Math.max(...labels, 10) + 4, 30);
  const out: string[] = [];
  const line = (label: string, help: string) => {
    const left = `  ${label}`;
    const lines = wrapText(help, WIDTH - col);
    if (left.length + 2 > col) out.push(left);
    else out.push(left.padEnd(col) + lines.shift()!);
    for (const l of lines) out.push(" ".repeat(col) + l);
  };
  for (const [name, entries] of sections) {
    out.push(name);
    for (const [key, f] of entries) line(flagLabel(key, f), flagHelp(f));
    out.push("");
  }
  if (withHelp) line("    --help", "print this help");
  else out.pop();
  return out.join("\n");
}

/** A command's help: summary, usage, prose, every flag by section, and the footer. */
export function formatHelp(spec: CommandSpec<FlagSet>): string {
  const usage = spec.usage.map((u, i) => `${i === 0 ? "Usage: " : "       "}${u}`);
  return [
    `membench ${spec.name}: ${spec.summary}`,
    "",
    ...usage,
    ...(spec.about !== undefined ? ["", spec.about.trimEnd()] : []),
    "",
    formatFlags(spec.flags),
    ...(spec.footer !== undefined ? ["", spec.footer.trimEnd()] : []),
    "",
  ].join("\n");
}
