// The command catalogue (lib/protocol/command_table.ts) against the servers themselves. RESP:
// for every command and listed subcommand, redis-server's COMMAND INFO must give the same
// arity, key triple (first, last, step) and movable-keys flag, and its read/write flags must
// match the catalogue's class; for sample calls built from the catalogue's own arity and key
// description, COMMAND GETKEYS must return the keys commandKeys() finds, or "The command has no
// key arguments" where the catalogue says there are none. memcached: every text and meta
// command, called as the catalogue describes it, is one memcached knows, our request parser
// finds the catalogue's keys in it, and the multi-key forms count one get per key in `stats`.
import assert from "node:assert/strict";
import {
  AsciiRequestParser,
  type CommandInfo,
  commandKeys,
  McConnection,
  MEMCACHE_COMMANDS,
  parseTarget,
  RESP_COMMANDS,
  RespConnection,
  type RespValue,
  startLocalServer,
} from "../mod.ts";

const te = new TextEncoder();
const td = new TextDecoder();

/**
 * Commands of the catalogue that the redis-server under test may not know yet, with the Redis
 * version that added each: they are skipped only when COMMAND INFO answers nil for them, and a
 * command that answers nil without being listed here fails the test.
 */
const NEWER_THAN_SERVER: Readonly<Record<string, string>> = { "client|setinfo": "7.2.0" };

/** Every RESP entry: commands, then the subcommands listed under containers. */
function allResp(): CommandInfo[] {
  return RESP_COMMANDS.flatMap((c) => [c, ...(c.subcommands ?? [])]);
}

/** The words that name a command on the wire: `OBJECT ENCODING` for `object|encoding`. */
function nameWords(c: CommandInfo): string[] {
  return c.name.toUpperCase().split("|");
}

/**
 * The arguments of a call laid out from the catalogue's fixed key triple: `argc` arguments,
 * keys where the triple puts them (`k<index>`), "0" elsewhere.
 */
function fixedLayout(c: CommandInfo, argc: number, words = nameWords(c)): string[] {
  const args = [...words];
  const last = c.lastKey < 0 ? argc + c.lastKey : c.lastKey;
  for (let i = args.length; i < argc; i++) {
    const key = c.firstKey > 0 && i >= c.firstKey && i <= last &&
      (i - c.firstKey) % c.keyStep === 0;
    args.push(key ? `k${i}` : "0");
  }
  return args;
}

/**
 * Sample calls of a command built from its arity and key description alone: the shortest call
 * the arity allows, made longer when the keys run to the end so that at least two keys show
 * (and key/value pairs stay whole); a call for each way its movable keys are found. A command
 * of arity 1 takes no argument, but COMMAND GETKEYS needs one after the name (its own arity is
 * -4): such a call gets one "0", which Redis accepts for a command without keys.
 */
function sampleCalls(c: CommandInfo): string[][] {
  if (c.subcommands) return [[...nameWords(c), "HELP"]];
  const words = nameWords(c).length;
  let argc = Math.max(Math.abs(c.arity), words + 1);
  if (c.arity < 0 && c.firstKey > 0 && c.lastKey < 0) {
    const keysIn = (n: number) => n + c.lastKey - c.firstKey + 1;
    while (keysIn(argc) < 2 * c.keyStep || keysIn(argc) % c.keyStep !== 0) argc++;
  }
  const m = c.movable;
  if (!m) return [fixedLayout(c, argc)];
  switch (m.kind) {
    case "numkeys": {
      const head = fixedLayout(c, m.at);
      const call = [...head, "2", "ka", "kb"];
      while (call.length < Math.abs(c.arity)) call.push("0");
      return [call];
    }
    case "keyword":
      return [
        fixedLayout(c, argc),
        ...m.words.map((w) => [...fixedLayout(c, argc), w.toUpperCase(), "kdest"]),
      ];
    case "streams": {
      const call = [...nameWords(c), ...m.before];
      while (call.length + 5 < Math.abs(c.arity)) call.push("0");
      return [[...call, "STREAMS", "ka", "kb", "0", "0"]];
    }
    case "keys-after": {
      const plain = fixedLayout(c, argc);
      const multi = [...plain];
      multi[c.firstKey] = "";
      while (multi.length < m.from) multi.push("0");
      return [plain, [...multi, m.word.toUpperCase(), "ka", "kb"]];
    }
  }
}

/**
 * Calls beyond the samples, where the arguments move the keys: repeated or odd keywords, key
 * counts past the arguments, odd stream lists, subcommands in another case.
 */
const MORE_CALLS: ReadonlyArray<[string, string[]]> = [
  ["migrate", ["MIGRATE", "h", "1", "", "0", "5000", "COPY", "KEYS", "a", "b"]],
  ["sort", ["SORT", "k", "STORE", "d1", "STORE", "d2"]],
  ["sort", ["SORT", "k", "LIMIT", "0", "10", "STORE", "d"]],
  ["georadius", ["GEORADIUS", "k", "0", "0", "1", "km", "storedist", "d"]],
  ["xread", ["XREAD", "COUNT", "2", "STREAMS", "a", "b", "0", "0"]],
  ["xread", ["XREAD", "COUNT", "1", "STREAMS", "a", "b", "c", "d", "e"]],
  ["eval", ["EVAL", "s", "0"]],
  ["eval", ["EVAL", "s", "3", "a", "b"]],
  ["eval", ["EVAL", "s", "x", "a", "b"]],
  ["zunionstore", ["ZUNIONSTORE", "d", "3", "a", "b"]],
  ["object", ["object", "Encoding", "k"]],
  ["mset", ["MSET", "a", "1", "b", "2", "c"]],
  ["blpop", ["BLPOP", "a", "b", "c", "0"]],
];

/** The keys commandKeys() finds in a call, as strings. */
function catalogueKeys(c: CommandInfo, call: string[]): string[] {
  const args = call.map((a) => te.encode(a));
  const out: number[] = [];
  const n = commandKeys(c, args, out);
  return out.slice(0, n).map((i) => call[i]!);
}

function text(v: RespValue | undefined): string | undefined {
  if (v?.type === "bulk") return td.decode(v.value);
  if (v?.type === "simple") return v.value;
  return undefined;
}

/** A reply as the test reports it: bulk strings as text. */
function shown(v: RespValue): string {
  if (v.type === "error") return `error ${JSON.stringify(v.value)}`;
  if (v.type === "array") return `[${v.value.map((x) => text(x) ?? shown(x)).join(",")}]`;
  return text(v) ?? JSON.stringify(v);
}

function num(v: RespValue | undefined): number {
  assert.ok(v?.type === "integer", `expected an integer, got ${JSON.stringify(v)}`);
  return Number(v.value);
}

/** COMMAND INFO's reply for one command, as the fields this test reads. */
interface ServerInfo {
  arity: number;
  flags: Set<string>;
  first: number;
  last: number;
  step: number;
}

function serverInfo(v: RespValue): ServerInfo | undefined {
  if (v.type === "null") return undefined;
  assert.ok(v.type === "array", `COMMAND INFO entry: ${JSON.stringify(v)}`);
  const f = v.value[2];
  assert.ok(f?.type === "array" || f?.type === "set");
  return {
    arity: num(v.value[1]),
    flags: new Set(f.value.map((x) => text(x)!)),
    first: num(v.value[3]),
    last: num(v.value[4]),
    step: num(v.value[5]),
  };
}

Deno.test("the command catalogue's RESP key positions, arities and classes are redis-server's own (COMMAND INFO, COMMAND GETKEYS)", async () => {
  await using srv = await startLocalServer("redis");
  using c = await RespConnection.open(parseTarget(srv.address));
  const version = /redis_version:(\S+)/.exec(await c.text(["INFO", "server"]))?.[1];
  const entries = allResp();
  const infos = await c.command(["COMMAND", "INFO", ...entries.map((e) => e.name)]);
  assert.ok(infos.type === "array" && infos.value.length === entries.length);
  const problems: string[] = [];
  let calls = 0;
  let keyed = 0;
  for (const [i, e] of entries.entries()) {
    const info = serverInfo(infos.value[i]!);
    if (!info) {
      // Nil: this server does not know the command. Only the listed newer commands may be.
      if (!(e.name in NEWER_THAN_SERVER)) {
        problems.push(
          `${e.name}: redis-server ${version} does not know it (COMMAND INFO is nil); ` +
            `if it is newer than this server, list it in NEWER_THAN_SERVER with its version`,
        );
      }
      continue;
    }
    const want = `arity ${info.arity}, keys ${info.first},${info.last},${info.step}`;
    const got = `arity ${e.arity}, keys ${e.firstKey},${e.lastKey},${e.keyStep}`;
    if (want !== got) problems.push(`${e.name}: server says ${want}, catalogue ${got}`);
    if (info.flags.has("movablekeys") !== (e.movable !== undefined)) {
      problems.push(`${e.name}: movablekeys is ${info.flags.has("movablekeys")} on the server`);
    }
    const cls = info.flags.has("write") ? "write" : info.flags.has("readonly") ? "read" : "";
    if (cls ? e.class !== cls : e.class === "read" || e.class === "write") {
      problems.push(
        `${e.name}: class ${e.class}, but the server's flags are ${[...info.flags].join(",")}`,
      );
    }
    const more = MORE_CALLS.filter(([name]) => name === e.name).map(([, call]) => call);
    for (const call of [...sampleCalls(e), ...more]) {
      calls++;
      const keys = catalogueKeys(e, call);
      if (keys.length > 0) keyed++;
      const r = await c.command(["COMMAND", "GETKEYS", ...call]);
      const asked = `COMMAND GETKEYS ${call.map((a) => JSON.stringify(a)).join(" ")}`;
      if (keys.length === 0 && !e.movable) {
        // No keys by position: Redis refuses, whatever the arguments.
        if (r.type !== "error" || !/The command has no key arguments/.test(r.value)) {
          problems.push(`${asked}: catalogue finds no keys, server answers ${shown(r)}`);
        }
      } else if (keys.length === 0 && r.type === "error") {
        // Movable keys the arguments leave out: Redis finds the call malformed.
        if (!/Invalid arguments specified for command/.test(r.value)) {
          problems.push(`${asked}: catalogue finds no keys, server answers ${shown(r)}`);
        }
      } else if (r.type !== "array") {
        problems.push(`${asked}: catalogue finds [${keys}], server answers ${shown(r)}`);
      } else {
        const got = r.value.map((x) => text(x));
        if (JSON.stringify(got) !== JSON.stringify(keys)) {
          problems.push(`${asked}: catalogue finds [${keys}], server [${got}]`);
        }
      }
    }
  }
  for (const [name] of MORE_CALLS) {
    assert.ok(
      entries.some((e) => e.name === name),
      `${name} has calls but is not in the catalogue`,
    );
  }
  for (const name of Object.keys(NEWER_THAN_SERVER)) {
    assert.ok(entries.some((e) => e.name === name), `${name} is skipped but not in the catalogue`);
  }
  assert.deepEqual(problems, [], `redis-server ${version}:\n${problems.join("\n")}`);
  // The samples did exercise keys: most commands have some, every movable kind was called.
  assert.ok(calls > entries.length, `${calls} calls`);
  assert.ok(keyed > 120, `${keyed} calls with keys`);
});

/** A call of a memcached text or meta command as the catalogue describes it. */
function memcacheCall(c: CommandInfo): string[] {
  const argc = Math.abs(c.arity) + (c.lastKey < 0 ? 2 : 0); // three keys for the multi-key forms
  return fixedLayout(c, argc, [c.name]);
}

Deno.test("the command catalogue's memcached commands are memcached's: known, keys where our parser finds them, one lookup per key", async () => {
  await using srv = await startLocalServer("memcached");
  using mc = await McConnection.open(parseTarget(srv.address));
  const problems: string[] = [];
  let multi = 0;
  for (const e of MEMCACHE_COMMANDS) {
    if (e.form === "binary") continue; // binary opcodes' names, not text commands
    const call = memcacheCall(e);
    const line = te.encode(call.join(" ") + "\r\n");
    const q = new AsciiRequestParser("catalogue sample");
    assert.equal(q.parse(line, 0, line.length), line.length, call.join(" "));
    assert.equal(q.malformed, undefined, call.join(" "));
    // Our request parser says whether a data block follows (storage commands): an empty one.
    const bytes = q.valueLength === 0 ? te.encode(call.join(" ") + "\r\n\r\n") : line;
    const parsed = Array.from({ length: q.keyCount }, (_, i) => td.decode(q.key(i)));
    const keys = catalogueKeys(e, call);
    if (JSON.stringify(parsed) !== JSON.stringify(keys)) {
      problems.push(`${call.join(" ")}: catalogue finds [${keys}], our parser [${parsed}]`);
    }
    if (e.name === "quit") continue; // closes the connection: checked below
    const before = await mc.stats();
    // `mn` fences the reply, whatever its length (stats ends with END, then MN).
    const fenced = e.name === "mn" ? bytes : new Uint8Array([...bytes, ...te.encode("mn\r\n")]);
    const replies = await mc.send(fenced, { kind: "mn", keys: 0 });
    const bad = replies.find((r) => /ERROR/.test(r.status));
    if (bad) problems.push(`${call.join(" ")}: memcached answers ${bad.line}`);
    if (e.eachKey) {
      multi++;
      const after = await mc.stats();
      // One lookup per key: a get (get, gets) or a touch (gat, gats).
      const lookups = (st: Record<string, string>) => Number(st.cmd_get) + Number(st.cmd_touch);
      const gets = lookups(after) - lookups(before);
      if (keys.length !== 3 || gets !== keys.length) {
        problems.push(`${call.join(" ")}: ${keys.length} keys, memcached counts ${gets} lookups`);
      }
    }
  }
  assert.deepEqual(problems, [], problems.join("\n"));
  assert.equal(multi, 4, "get, gets, gat and gats");
  // quit: memcached closes the connection.
  using q = await McConnection.open(parseTarget(srv.address));
  await assert.rejects(q.call(["quit"]), /closed/);
});
