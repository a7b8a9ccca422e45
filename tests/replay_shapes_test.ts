// Requests keep their shape through record and replay (profile format 2.1): a real client
// (ioredis) sends subcommands (CONFIG GET, CLIENT SETNAME), options (SET NX EX, SET XX PX, ZADD
// NX, XADD MAXLEN ~ *, ZRANGEBYSCORE ... WITHSCORES), fields and members (HSET/HGET, ZADD/
// ZSCORE, SADD/SISMEMBER), numbers (INCRBY, EXPIRE, LRANGE, scores) and a MULTI/EXEC
// transaction; tcpdump captures it, record writes a profile, and replay sends it to a fresh
// redis-server. The witnesses are the servers': MONITOR (each call's arguments, in order),
// INFO commandstats, and the keyspace each run leaves (type and size of every key).
import assert from "node:assert/strict";
import {
  argKinds,
  ArgWord,
  buildRequest,
  OPTION_WORDS,
  ProfileReader,
  record,
  replay,
  respCommand,
  startLocalServer,
  synthesizeKey,
} from "../mod.ts";
import { captureNoDrops } from "./capture_helpers.ts";
import {
  commandStats,
  monitor,
  type Monitored,
  redisText,
  runNodeClient,
  statsDelta,
} from "./helpers.ts";

// Keys are k:..., fields and members f:... and m:..., values v...: the test tells them apart by
// name; everything else (option words, numbers) the profile keeps as it was.
const CLIENT = `
const Redis = require("ioredis");
const r = new Redis({ host: "127.0.0.1", port: Number(process.env.PORT), enableReadyCheck: false,
  maxRetriesPerRequest: 0 });
(async () => {
  await r.set("k:a", "v1");
  await r.set("k:a", "vv-overwritten", "NX", "EX", 10);
  await r.set("k:b", "vb", "XX");
  await r.set("k:c", "vcc", "NX", "PX", 50000);
  await r.config("GET", "maxmemory");
  await r.client("SETNAME", "shape-client");
  await r.hset("k:h", "f:one", "v-1", "f:two", "v-22");
  await r.hget("k:h", "f:one");
  await r.hget("k:h", "f:nope");
  await r.hincrby("k:h", "f:n", 5);
  await r.incrby("k:ctr", 7);
  await r.expire("k:a", 100);
  await r.zadd("k:z", 1.5, "m:one", 2, "m:two");
  await r.zadd("k:z", "NX", 3, "m:one");
  await r.zscore("k:z", "m:one");
  await r.zrangebyscore("k:z", "(1", "+inf", "WITHSCORES");
  await r.sadd("k:s", "m:x", "m:y", "m:z");
  await r.sismember("k:s", "m:y");
  await r.lpush("k:l", "va", "vbb", "vccc");
  await r.lrange("k:l", 0, -1);
  await r.xadd("k:x", "*", "f:field", "v-value");
  await r.xadd("k:x", "MAXLEN", "~", 100, "*", "f:field", "v-other");
  // Explicit stream IDs and ranges over them, lex bounds over ZADD's members (format 2.2).
  await r.xadd("k:x2", "1-1", "f:field", "v-a");
  await r.xadd("k:x2", "2-*", "f:field", "v-b");
  await r.xadd("k:x2", "MINID", "~", "1-0", "5", "f:field", "v-c");
  await r.xrange("k:x2", "-", "+");
  await r.xrange("k:x2", "(1-1", "+", "COUNT", 5);
  await r.xrevrange("k:x2", "5", "1-1");
  await r.zadd("k:lex", 0, "m:a", 0, "m:b", 0, "m:c");
  await r.zrangebylex("k:lex", "[m:a", "(m:c");
  await r.zrangebylex("k:lex", "-", "+", "LIMIT", 0, 2);
  await r.zlexcount("k:lex", "(m:a", "+");
  await r.rename("k:c", "k:c2");
  await r.watch("k:a", "k:ctr");
  await r.multi().hset("k:h2", "f:a", "vb").incrby("k:ctr", 2).exec();
  r.disconnect();
})().catch((e) => { console.error(e); process.exit(1); });
`;

// The calls of the one client that is neither the monitor nor the test (the most calls).
function clientCalls(seen: Monitored[]): string[][] {
  const by = new Map<string, string[][]>();
  for (const m of seen) by.set(m.client, [...(by.get(m.client) ?? []), m.args]);
  return [...by.values()].sort((a, b) => b.length - a.length)[0] ?? [];
}

// redis-cli's answer (one line per element).
async function cli(address: string, args: string[]): Promise<string> {
  const i = address.lastIndexOf(":");
  const out = await new Deno.Command("redis-cli", {
    args: ["-h", address.slice(0, i), "-p", address.slice(i + 1), ...args],
    stdout: "piped",
  }).output();
  return new TextDecoder().decode(out.stdout);
}

// Every key of a server with its type and size, as the server tells them.
async function keyspace(address: string): Promise<Map<string, string>> {
  const keys = (await cli(address, ["KEYS", "*"])).split("\n").filter((k) => k !== "");
  const out = new Map<string, string>();
  for (const k of keys) {
    const type = (await redisText(address, ["TYPE", k])).trim();
    const size = { string: "STRLEN", hash: "HLEN", zset: "ZCARD", set: "SCARD", list: "LLEN" }[
      type
    ] ?? "XLEN";
    out.set(k, `${type} ${(await redisText(address, [size, k])).trim()}`);
  }
  return out;
}

const named = /^[kfm]:/;
const isNumber = (s: string) => /^\(?[-+]?(\d+(\.\d*)?|\.\d+|inf)$/i.test(s);

Deno.test("record and replay keep subcommands, options, fields, members, numbers and MULTI/EXEC: the servers saw the same calls", async () => {
  await using src = await startLocalServer("redis");
  const mon = await monitor(src.address);
  const cap = await captureNoDrops(
    src.port,
    () => commandStats(src.address),
    () => runNodeClient(CLIENT, src.port),
  );
  const original = clientCalls(await mon.stop());
  const profile = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    await record({ pcap: cap.file, output: profile, ports: [src.port], salt: "shapes" });
    // What the profile holds: subcommands as op names, and nothing of the client's names and
    // values in clear (the privacy test has the byte-level check).
    {
      using r = await ProfileReader.open(profile);
      for await (const _ of r.blocks()) { /* read to the footer */ }
      const ops = Object.keys(r.footer!.opCounts);
      assert.ok(ops.includes("config|get") && ops.includes("client|setname"), ops.join(" "));
      assert.ok(r.tokens.includes("nx") && r.tokens.includes("*"), r.tokens.join(" "));
    }
    await using dst = await startLocalServer("redis");
    const mon2 = await monitor(dst.address);
    const before = await commandStats(dst.address);
    const res = await replay({
      profile,
      target: dst.address,
      speed: "max",
      verifyServer: true,
      signal: AbortSignal.timeout(60_000),
    });
    const after = await commandStats(dst.address);
    const replayed = clientCalls(await mon2.stop());
    assert.equal(res.failure, undefined, JSON.stringify(res.failure));
    assert.deepEqual(res.skipped, {}, JSON.stringify(res.skipped));
    // Errors: as many as the recording saw, on the same command (ioredis' CLIENT SETINFO, which
    // this redis-server does not know).
    for (const c of res.commands) {
      const errors = Object.values(c.errors).reduce((n, x) => n + x, 0);
      assert.equal(errors, c.recordedErrors ?? 0, `${c.op}: ${JSON.stringify(c.errors)}`);
    }
    assert.equal(res.fidelity.pass, true, JSON.stringify(res.fidelity.checks));

    // MONITOR: the same calls in the same order, argument by argument. Option words and numbers
    // are the same; keys, fields and members are replaced one for one (the same original name
    // always gives the same new name, of the same length); values keep their length.
    const orig = original.filter((a) => !["info", "hello"].includes(a[0]!.toLowerCase()));
    // (MONITOR shows no admin command such as CONFIG; the replay's own CLIENT SETNAME is its
    // connection's set-up.)
    const repl = replayed.filter((a) =>
      !["info", "hello"].includes(a[0]!.toLowerCase()) && a[2] !== "membench-replay"
    );
    assert.equal(repl.length, orig.length, JSON.stringify({ orig, repl }));
    const names = new Map<string, string>();
    const back = new Map<string, string>();
    for (const [i, o] of orig.entries()) {
      const p = repl[i]!;
      const where = `call ${i}: ${o.join(" ")} / ${p.join(" ")}`;
      assert.equal(p.length, o.length, where);
      for (const [j, a] of o.entries()) {
        const b = p[j]!;
        assert.equal(b.length, a.length, where);
        if (/^[[(][kfm]:/.test(a)) {
          // A lex bound: the same bracket, the member replaced as ZADD's was.
          assert.equal(b[0], a[0], where);
          const [m, n] = [a.slice(1), b.slice(1)];
          assert.equal(names.get(m) ?? n, n, `${where}: ${m} replayed as two names`);
          assert.equal(back.get(n) ?? m, m, `${where}: two names replayed as ${n}`);
          names.set(m, n);
          back.set(n, m);
        } else if (named.test(a)) {
          assert.equal(names.get(a) ?? b, b, `${where}: ${a} replayed as two names`);
          assert.equal(back.get(b) ?? a, a, `${where}: two names replayed as ${b}`);
          names.set(a, b);
          back.set(b, a);
        } else if (j === 0 || isNumber(a) || !/^v/.test(a) && a !== "shape-client") {
          // The command, option words and numbers (ioredis writes 1.5 as "1.5").
          if (isNumber(a)) assert.equal(Number(b.replace("(", "")), Number(a.replace("(", "")));
          else assert.equal(b.toLowerCase(), a.toLowerCase(), where);
        }
      }
    }
    assert.ok(names.size >= 15, `${names.size} names`);

    // INFO commandstats: every command called as often (CONFIG GET, CLIENT SETNAME, HSET, ...).
    const o = statsDelta(cap.before, cap.after, ["info", "hello"]);
    const p = statsDelta(before, after, ["info", "hello"]);
    for (
      const c of [
        "config|get",
        "client|setname",
        "hset",
        "zadd",
        "xadd",
        "xrange",
        "xrevrange",
        "zrangebylex",
        "zlexcount",
        "watch",
        "multi",
        "exec",
      ]
    ) {
      assert.ok((o[c] ?? 0) > 0, `${c} not in the original run: ${JSON.stringify(o)}`);
    }
    // (The replay's one connection names itself first: one CLIENT SETNAME more.)
    p["client|setname"]! -= 1;
    assert.deepEqual(p, o);

    // The keyspace each run left: the same keys (as replaced), of the same type and size. SET NX
    // on an existing key did not overwrite it (k:a keeps 2 bytes), SET XX on a missing one
    // created nothing (no k:b), ZADD NX did not add a member.
    const ko = await keyspace(src.address);
    const kp = await keyspace(dst.address);
    assert.equal(ko.get("k:a"), "string 2");
    assert.equal(ko.has("k:b"), false);
    assert.equal(ko.get("k:z"), "zset 2");
    assert.equal(kp.size, ko.size, JSON.stringify({ ko: [...ko], kp: [...kp] }));
    for (const [k, v] of ko) assert.equal(kp.get(names.get(k)!), v, k);
    // TTLs set by SET EX/PX and EXPIRE are there (seconds, rounded).
    const ttl = async (a: string, k: string) => Number(await redisText(a, ["TTL", k]));
    assert.ok(Math.abs(await ttl(dst.address, names.get("k:a")!) - 100) <= 2);
    assert.ok(Math.abs(await ttl(dst.address, names.get("k:c2")!) - 50) <= 2);
    // --verify-server: the server counted the profile's requests, command by command.
    assert.equal(res.verification!.diff, 0, JSON.stringify(res.verification));
  } finally {
    await Deno.remove(cap.file);
    await Deno.remove(profile);
  }
});

Deno.test("argument words: a request rebuilt from them is the recorded call; without them (profiles before 2.1) the old rebuild", () => {
  const td = new TextDecoder();
  const fill = (n: number) => new Uint8Array(n).fill(120);
  const tokens = ["nx", "ex"];
  const f64 = (v: number) => [...new Uint32Array(Float64Array.of(v).buffer)];
  // SET key <7 bytes> NX EX 10
  const set = Uint32Array.of(
    ArgWord.Key,
    ArgWord.Value,
    7,
    (0 << 3) | ArgWord.Token,
    (1 << 3) | ArgWord.Token,
    ArgWord.Number,
    ...f64(10),
  );
  const e = { op: "set", key: "kkkk", valueLen: 7, ttl: 10, flags: 0, tokens };
  const wire = (r: { bytes: Uint8Array } | undefined) => td.decode(r!.bytes).split("\r\n");
  assert.deepEqual(
    wire(buildRequest({ ...e, args: set }, "resp", true, fill)),
    ["*6", "$3", "SET", "$4", "kkkk", "$7", "xxxxxxx", "$2", "NX", "$2", "EX", "$2", "10", ""],
  );
  // Before 2.1: SET k v EX ttl, the options lost (what the format could not say).
  assert.deepEqual(
    wire(buildRequest(e, "resp", true, fill)).filter((_, i) => i % 2 === 0),
    ["*5", "SET", "kkkk", "xxxxxxx", "EX", "10"],
  );
  // HSET key <field of 5, hashed> <value of 3>: the field is made from its hash, as keys are.
  const hset = Uint32Array.of(ArgWord.Key, (5 << 3) | ArgWord.Hash, 1, 2, ArgWord.Value, 3);
  const h = { op: "hset", key: "hk", valueLen: 3, ttl: -1, flags: 0, args: hset, tokens };
  assert.deepEqual(wire(buildRequest(h, "resp", true, fill)), [
    "*4",
    "$4",
    "HSET",
    "$2",
    "hk",
    "$5",
    synthesizeKey(1, 2, 5),
    "$3",
    "xxx",
    "",
  ]);
  // ...and HSET without its words (a 2.0 profile): skipped, never sent as HSET k v.
  assert.equal(buildRequest({ ...h, args: undefined }, "resp", true, fill), undefined);
  // A token index the table does not hold, or a call the arity refuses: not rebuilt.
  assert.equal(
    buildRequest({ ...e, args: Uint32Array.of((9 << 3) | ArgWord.Token) }, "resp", true, fill),
    undefined,
  );
  assert.equal(
    buildRequest({ ...h, args: Uint32Array.of(ArgWord.Key) }, "resp", true, fill),
    undefined,
  );
  // Capture's side: the catalogue classifies SET's and ZADD's arguments.
  const te = new TextEncoder();
  const kinds = new Uint8Array(8);
  const toks = new Int32Array(8);
  const zadd = ["ZADD", "z", "NX", "1.5", "m1", "2", "m2"].map((s) => te.encode(s));
  argKinds(respCommand("zadd")!, zadd, kinds, toks, []);
  assert.deepEqual([...kinds.subarray(0, 7)], [0, 1, 5, 4, 2, 4, 2]);
  assert.equal(OPTION_WORDS[toks[2]!], "nx");
  const cfg = ["CONFIG", "GET", "maxmemory"].map((s) => te.encode(s));
  argKinds(respCommand("config|get")!, cfg, kinds, toks, []);
  assert.deepEqual([...kinds.subarray(0, 3)], [0, 0, 5]);
  const name = ["CLIENT", "SETNAME", "secret"].map((s) => te.encode(s));
  argKinds(respCommand("client|setname")!, name, kinds, toks, []);
  assert.deepEqual([...kinds.subarray(0, 3)], [0, 0, 2]);
});
