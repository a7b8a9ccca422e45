// Meta-protocol flags are kept by record (profile 2.1 words) and rebuilt by replay: a small meta
// client written here sends a variety of flag sets (quiet fenced by mn, opaques, returned keys,
// TTLs, client flags, ms modes, ma with auto-create, base64 keys) to a local memcached while
// tcpdump captures loopback; the capture is recorded, replayed at max speed into a fresh
// memcached (captured too), and both servers' `stats` deltas and the requests read back from
// both captures by tshark (flags per request, keys and opaque values aside) must be the same.
import assert from "node:assert/strict";
import {
  McConnection,
  OPTION_WORDS,
  parseTarget,
  ProfileReader,
  record,
  replay,
  startLocalServer,
} from "../mod.ts";
import { captureNoDrops } from "./capture_helpers.ts";
import { loadTest } from "./helpers.ts";

const STATS = [
  "cmd_get",
  "cmd_set",
  "cmd_touch",
  "get_hits",
  "get_misses",
  "get_expired",
  "touch_hits",
  "touch_misses",
  "delete_hits",
  "delete_misses",
  "incr_hits",
  "incr_misses",
  "decr_hits",
  "decr_misses",
  "curr_items",
];

async function mcStats(address: string): Promise<Record<string, number>> {
  using c = await McConnection.open(parseTarget(address));
  const s = await c.stats();
  return Object.fromEntries(STATS.map((k) => [k, Number(s[k])]));
}

function delta(a: Record<string, number>, b: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.keys(b).map((k) => [k, b[k]! - (a[k] ?? 0)]));
}

const b64 = (s: string) => btoa(s);

/** One batch of meta requests (written at once, fenced by mn) for round `r`. */
function batch(r: number): string {
  const k = (p: string) => `${p}${r}`;
  const lines = [
    `ms ${k("a")} 5 T60 F7 q\r\nhello`,
    `ms ${k("b")} 3 T0 F0\r\nxyz`,
    `ms ${k("a")} 2 MA q\r\n!!`, // append (quiet: HD suppressed)
    `ms ${k("a")} 2 MP\r\n>>`, // prepend
    `ms ${k("a")} 2 ME q\r\nzz`, // add on an existing key: NS, answered though quiet
    `ms ${k("none")} 2 MR\r\nrr`, // replace a missing key: NS
    `ms ${k("b")} 4 MS I T30 c\r\nabcd`,
    `mg ${k("a")} v t f s c k O${r}77 q`,
    `mg ${k("miss")} v k q O${r}78`, // a quiet miss: nothing comes back
    `mg ${k("b")} s t`,
    `mg ${k("b")} T120 v`, // get and touch
    `mg ${k("miss2")} v`,
    `ms ${b64(k("base64-"))} 3 b T90\r\nb64`,
    `mg ${b64(k("base64-"))} b v k`,
    `ma ${k("n")} N60 J10 D3 MI q`, // auto-created at 10
    `ma ${k("n")} D2 M- v`,
    `ma ${k("n")} MD D1 O${r}9`,
    `ma ${k("nothere")} q`, // a quiet miss: NF answered
    `md ${k("b")} q I T30`, // invalidate: stale, not gone
    `md ${k("a")} q`,
    `md ${k("a")} q`, // already gone: NF answered
    `mn`,
  ];
  return lines.map((l) => l + "\r\n").join("");
}

/** Sends each batch on one connection to 127.0.0.1:`port`, reading up to its MN. */
async function metaClient(port: number, rounds: number): Promise<void> {
  const c = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const td = new TextDecoder();
    const buf = new Uint8Array(1 << 16);
    for (let r = 0; r < rounds; r++) {
      await c.write(new TextEncoder().encode(batch(r)));
      let got = "";
      const deadline = Date.now() + 5000;
      while (!got.endsWith("MN\r\n")) {
        if (Date.now() > deadline) throw new Error(`no MN in 5 s: ${got}`);
        const n = await c.read(buf);
        if (n === null) throw new Error("memcached closed the connection");
        got += td.decode(buf.subarray(0, n));
      }
      assert.ok(!/ERROR/.test(got), got);
    }
  } finally {
    c.close();
  }
}

/**
 * The client's requests in a capture, read by tshark (the TCP payload towards `port`), one
 * normalised line per request: the command, `K` for the key, ms's data length, then the flags
 * in order, an opaque's value as `O` (the server echoes it; its value is the client's own).
 */
async function wireRequests(file: string, port: number): Promise<string[]> {
  const out = await new Deno.Command("tshark", {
    args: [
      "-r",
      file,
      "-Y",
      `tcp.dstport==${port} && tcp.len>0`,
      "-T",
      "fields",
      "-e",
      "tcp.payload",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  let hex = "";
  for (const l of new TextDecoder().decode(out.stdout).split("\n")) {
    hex += l.replaceAll(":", "").trim();
  }
  const bytes = new Uint8Array(hex.length / 2);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  const text = new TextDecoder("latin1").decode(bytes);
  const reqs: string[] = [];
  let at = 0;
  while (at < text.length) {
    const nl = text.indexOf("\r\n", at);
    if (nl < 0) break;
    const w = text.slice(at, nl).split(" ");
    at = nl + 2;
    // The data block: meta's ms, text's storage commands.
    if (w[0] === "ms") at += Number(w[2]) + 2;
    else if (/^(set|add|replace|append|prepend|cas)$/.test(w[0]!)) at += Number(w[4]) + 2;
    const flags = w.slice(w[0] === "ms" ? 3 : 2).map((f) => f.startsWith("O") ? "O" : f);
    reqs.push(
      [w[0], ...(w.length > 1 ? ["K"] : []), ...(w[0] === "ms" ? [w[2]] : []), ...flags].join(" "),
    );
  }
  return reqs;
}

/** The profile's meta flag words per event, as text (`T60`, `q`, `MA`, `O`). */
async function profileFlags(profile: string): Promise<string[]> {
  const out: string[] = [];
  using r = await ProfileReader.open(profile);
  for await (const b of r.blocks()) {
    for (let i = 0; i < b.count; i++) {
      const at = b.argOff[i]!;
      const w = b.argv.subarray(at, b.argOff[i + 1]!);
      const words: string[] = [r.ops[b.op[i]!]!];
      for (let j = 0; j < w.length;) {
        const kind = w[j]! & 7;
        if (kind === 0) words.push("K"), j++;
        else if (kind === 1) words.push(r.tokens[w[j]! >>> 3]!), j++;
        else if (kind === 2) {
          const f = new Float64Array(new Uint32Array([w[j + 1]!, w[j + 2]!]).buffer)[0]!;
          words[words.length - 1] += String(f);
          j += 3;
        } else if (kind === 4) words.push(String(w[j + 1])), j += 2;
        else words.push("#"), j += 3;
      }
      out.push(words.join(" "));
    }
  }
  return out;
}

async function capturedReplay(profile: string, protocol?: "memcache-text") {
  await using dst = await startLocalServer("memcached");
  let result: Awaited<ReturnType<typeof replay>> | undefined;
  const cap = await captureNoDrops(dst.port, () => mcStats(dst.address), async () => {
    result = await replay({
      profile,
      target: dst.address,
      speed: "max",
      signal: AbortSignal.timeout(60_000),
      ...(protocol ? { protocol } : {}),
    });
  });
  try {
    return {
      r: result!,
      server: delta(cap.before, cap.after),
      wire: await wireRequests(cap.file, dst.port),
    };
  } finally {
    await Deno.remove(cap.file);
  }
}

loadTest("meta flags: record keeps each request's flags and replay sends the same", async () => {
  await using src = await startLocalServer("memcached");
  const rounds = 20;
  const cap = await captureNoDrops(
    src.port,
    () => mcStats(src.address),
    () => metaClient(src.port, rounds),
  );
  const profile = await Deno.makeTempFile({ suffix: ".mbp" });
  try {
    const original = delta(cap.before, cap.after);
    const wire = await wireRequests(cap.file, src.port);
    await record({ pcap: cap.file, output: profile, ports: [src.port], salt: "mf" });
    await Deno.remove(cap.file);
    // tshark's view of what the client sent: every request of every round.
    assert.equal(
      wire.length,
      rounds * batch(0).split("\r\n").filter((l) => /^m[a-z] /.test(l) || l === "mn").length,
    );
    assert.ok(wire.includes("ms K 5 T60 F7 q"), wire.slice(0, 30).join("\n"));
    // The profile keeps the flags as option words and numbers, the opaque without its value.
    const flags = await profileFlags(profile);
    assert.ok(flags.includes("ms K 5 T60 F7 q"), flags.slice(0, 30).join("\n"));
    assert.ok(flags.includes("mg K v t f s c k O q"), flags.slice(0, 30).join("\n"));
    assert.ok(flags.includes("ma K N60 J10 D3 MI q"), flags.slice(0, 30).join("\n"));
    assert.deepEqual(flags, wire.map((l) => l === "mn" ? "mn" : l));
    assert.ok(OPTION_WORDS.includes("MA"));

    const { r, server, wire: again } = await capturedReplay(profile);
    assert.equal(r.failure, undefined, JSON.stringify(r.failure));
    assert.deepEqual(r.skipped, {});
    // Per request, the same command, data length and flags in the same order. Replay adds mn
    // fences of its own after quiet requests that a loud one follows (so that it knows which
    // replies are whose); the client's own mn are all there.
    const notMn = (l: string[]) => l.filter((x) => x !== "mn");
    assert.deepEqual(notMn(again), notMn(wire));
    assert.ok(again.length - notMn(again).length >= wire.length - notMn(wire).length);
    // And the server counted the same: hits, misses, touches, stores, counters, items.
    assert.deepEqual(server, original);
    assert.ok(
      original.incr_misses! > 0 && original.decr_hits! > 0 && original.touch_hits! > 0,
      JSON.stringify(original),
    );
  } finally {
    await Deno.remove(profile);
  }
});

loadTest(
  "meta flags: replayed to the text protocol, ms modes and ma deltas keep their meaning",
  async () => {
    await using src = await startLocalServer("memcached");
    // Modes whose text commands count as the meta ones do: set, append, prepend, add, replace,
    // incr and decr by a recorded delta; plus gets to see the values' sizes.
    const cap = await captureNoDrops(src.port, () => mcStats(src.address), async () => {
      const c = await Deno.connect({ hostname: "127.0.0.1", port: src.port });
      try {
        let w = "";
        for (let i = 0; i < 10; i++) {
          w += `ms t${i} 4 T60\r\nabcd\r\nms t${i} 2 MA\r\nzz\r\nms t${i} 1 MP\r\ny\r\n`;
          w += `ms t${i} 1 ME\r\nn\r\nms u${i} 1 MR\r\nn\r\nms c${i} 1\r\n5\r\n`;
          w += `ma c${i} D4\r\nma c${i} MD D2\r\nmg t${i} v\r\nmg c${i} v\r\n`;
        }
        w += "mn\r\n";
        await c.write(new TextEncoder().encode(w));
        let got = "";
        const buf = new Uint8Array(1 << 16);
        const deadline = Date.now() + 5000;
        while (!got.endsWith("MN\r\n") && Date.now() < deadline) {
          const n = await c.read(buf);
          if (n === null) break;
          got += new TextDecoder().decode(buf.subarray(0, n));
        }
      } finally {
        c.close();
      }
    });
    const profile = await Deno.makeTempFile({ suffix: ".mbp" });
    try {
      const original = delta(cap.before, cap.after);
      await record({ pcap: cap.file, output: profile, ports: [src.port], salt: "mf" });
      await Deno.remove(cap.file);
      const { r, server, wire } = await capturedReplay(profile, "memcache-text");
      assert.equal(r.failure, undefined, JSON.stringify(r.failure));
      // The text commands the modes stand for, the recorded delta on incr/decr.
      const cmds = wire.map((l) => l.split(" ")[0]);
      for (const c of ["append", "prepend", "add", "replace", "incr", "decr"]) {
        assert.equal(
          cmds.filter((x) => x === c).length,
          10,
          `${c}: ${wire.slice(0, 12).join("\n")}`,
        );
      }
      for (const k of STATS) {
        if (k === "cmd_touch" || k === "touch_hits" || k === "touch_misses") continue;
        assert.equal(server[k], original[k], `${k}: replay ${server[k]}, original ${original[k]}`);
      }
      // The counters ended where the original's did: +4 then -2 from 5 (sizes of the gets' values).
      const g = r.commands.find((c) => c.op === "mg")!;
      assert.equal(g.hits, original.get_hits);
    } finally {
      await Deno.remove(profile);
    }
  },
);
