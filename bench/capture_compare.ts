// deno-lint-ignore-file no-console
/**
 * Offline decoding speed: membench record vs tshark extracting the same memcached commands from
 * the same pcap, side by side in one run. The pcap is made here: tcpdump on loopback while
 * membench drives memcached (text protocol, get:set 9:1, 50 connections) for --seconds. Prints
 * packets/s of both and the ratio (median of --rounds).
 *
 *   deno run -A bench/capture_compare.ts [--seconds 5] [--rounds 3] [--pcap FILE --port N]
 */
import { parseArgs } from "node:util";
import { bench, record, startLocalServer } from "../mod.ts";
import { tsharkMemcacheCommands } from "../tests/capture_helpers.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    seconds: { type: "string", default: "5" },
    rounds: { type: "string", default: "3" },
    pcap: { type: "string" },
    port: { type: "string" },
  },
});

async function capture(seconds: number): Promise<{ file: string; port: number }> {
  const srv = await startLocalServer("memcached", { args: ["-t", "2"] });
  const file = await Deno.makeTempFile({ suffix: ".pcap" });
  const td = new Deno.Command("tcpdump", {
    args: [
      "-i",
      "lo",
      "--immediate-mode",
      "-s",
      "0",
      "-B",
      "262144",
      "-Z",
      "root",
      "-w",
      file,
      "tcp",
      "port",
      String(srv.port),
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const reader = td.stderr.getReader();
  let text = "";
  while (!text.includes("listening on")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await bench({
    target: srv.address,
    protocol: "memcache-text",
    mix: [{ command: "set", weight: 1 }, { command: "get", weight: 9 }],
    clients: 50,
    dataSize: 32,
    keyspace: 100_000,
    durationMs: seconds * 1000,
  });
  await new Promise((r) => setTimeout(r, 500));
  td.kill("SIGINT");
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  await td.status;
  await srv.stop();
  console.log(`capture: ${text.trim().split("\n").slice(-3).join("; ")}`);
  return { file, port: srv.port };
}

const { file, port } = values.pcap
  ? { file: values.pcap, port: Number(values.port ?? 11211) }
  : await capture(Number(values.seconds));
const out = await Deno.makeTempFile({ suffix: ".mbp" });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const mb: number[] = [];
const ts: number[] = [];
let packets = 0;
let events = 0;
let tsharkCommands = 0;
for (let r = 0; r < Number(values.rounds); r++) {
  let t0 = performance.now();
  const res = await record({ pcap: file, output: out, ports: [port], salt: "bench" });
  const ours = (performance.now() - t0) / 1000;
  packets = res.packets;
  events = res.events;
  t0 = performance.now();
  const counts = await tsharkMemcacheCommands(file, port);
  const theirs = (performance.now() - t0) / 1000;
  tsharkCommands = Object.values(counts).reduce((a, b) => a + b, 0);
  mb.push(packets / ours);
  ts.push(packets / theirs);
  console.log(
    `round ${r + 1}: membench ${ours.toFixed(2)} s (${
      Math.round(packets / ours).toLocaleString("en-US")
    } packets/s), ` +
      `tshark ${theirs.toFixed(2)} s (${
        Math.round(packets / theirs).toLocaleString("en-US")
      } packets/s)`,
  );
}
console.log(
  `\n${packets.toLocaleString("en-US")} packets, membench ${
    events.toLocaleString("en-US")
  } events, ` +
    `tshark ${tsharkCommands.toLocaleString("en-US")} commands`,
);
console.log(
  `membench ${Math.round(median(mb)).toLocaleString("en-US")} packets/s | tshark ${
    Math.round(median(ts)).toLocaleString("en-US")
  } packets/s | ratio ${(median(mb) / median(ts)).toFixed(1)}x`,
);
await Deno.remove(out);
if (!values.pcap) await Deno.remove(file);
