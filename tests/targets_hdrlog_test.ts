import assert from "node:assert/strict";
import * as hdr from "hdr-histogram-js";
import { bench, formatBenchCsv, formatBenchHdrLog, startLocalServer } from "../mod.ts";
import { commandStats, loadTest } from "./helpers.ts";

loadTest(
  "bench() over a unix socket and across several servers, with HDR log and CSV output",
  async () => {
    const dir = await Deno.makeTempDir({ prefix: "membench-sock-" });
    try {
      const sock = `${dir}/redis.sock`;
      await using a = await startLocalServer("redis", {
        args: ["--unixsocket", sock, "--unixsocketperm", "700"],
      });
      await using b = await startLocalServer("redis");
      const r = await bench({
        target: [sock, b.address],
        tests: ["set"],
        requests: 3000,
        clients: 4,
        seed: 2,
      });
      assert.deepEqual(r.config.targets, [sock, b.address]);
      // A unix socket among the targets: auto I/O takes Deno's sockets for the run.
      assert.equal(r.config.io, "deno");
      // Clients 0 and 2 use the socket, 1 and 3 the second server; each client sends 750.
      assert.equal((await commandStats(a.address)).set, 1500);
      assert.equal((await commandStats(b.address)).set, 1500);
      // The HDR log is in HdrHistogram's format: its own reader gets every interval back.
      const log = formatBenchHdrLog(r);
      const reader = new hdr.HistogramLogReader(log);
      let total = 0;
      for (let h = reader.nextIntervalHistogram(); h; h = reader.nextIntervalHistogram()) {
        assert.equal(h.tag, "set.set.service");
        total += h.totalCount;
      }
      assert.equal(total, 3000);
      const csv = formatBenchCsv(r).trim().split("\n");
      assert.equal(csv.length, 2);
      assert.match(csv[1]!, /^set,set,closed,service,3000,/);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
);
