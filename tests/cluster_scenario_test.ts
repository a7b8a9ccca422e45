import assert from "node:assert/strict";
import { bench, runScenario, startLocalCluster } from "../mod.ts";
import { loadTest } from "./helpers.ts";

loadTest(
  "server metrics on a loopback cluster: a hash-tagged key pattern (all keys on one node) is flagged on that node; a uniform one is not",
  async () => {
    await using cl = await startLocalCluster({ primaries: 3 });
    const load = (keyPrefix: string) =>
      bench({
        target: cl.address,
        cluster: true,
        tests: ["set"],
        requests: 20_000,
        clients: 6,
        keyspace: 5000,
        keyPrefix,
        serverMetrics: { intervalMs: 0 },
      });
    const hot = (await load("{hot}:")).tests[0]!;
    // membench's own count: one node took everything.
    const hotNode = hot.nodes!.find((n) => n.requests > 0)!;
    assert.equal(hotNode.share, 1);
    assert.equal(hot.cluster!.skew, 3);
    // The servers' own counters say the same: that node's command rate is far above the mean.
    const flagged = hot.server!.imbalance.filter((i) =>
      i.field === "stats.total_commands_processed" && i.measure === "rate"
    );
    const up = flagged.find((i) => i.deviationPct > 0);
    assert.ok(up, JSON.stringify(hot.server!.imbalance));
    assert.equal(up.node, hotNode.address);
    assert.ok(up.deviationPct > 90, JSON.stringify(up));
    assert.equal(hot.server!.nodes.length, 3);

    const even = (await load("key:")).tests[0]!;
    assert.deepEqual(
      even.server!.imbalance.filter((i) => i.measure === "rate"),
      [],
      `max deviation ${even.server!.imbalanceMaxPct.toFixed(1)}%`,
    );
    assert.ok(even.cluster!.skew < 1.3, `skew ${even.cluster!.skew}`);
  },
);

loadTest(
  "a scenario starts a redis-cluster, benches it in cluster mode, and thresholds read node.* and redirects.*",
  async () => {
    const outDir = await Deno.makeTempDir({ prefix: "membench-cluster-scenario-" });
    let addresses: string[] = [];
    try {
      const r = await runScenario(
        "cluster",
        { seed: 1, outDir, history: false, print: "none" },
        async (run) => {
          const c = await run.startServer("redis-cluster", { primaries: 3 });
          addresses = c.addresses;
          assert.equal(run.servers.length, 3);
          await run.bench({
            target: c.address,
            cluster: true,
            tests: ["set"],
            requests: 3000,
            clients: 3,
            keyspace: 1000,
            thresholds: ["node.max_share < 50%", "redirects.moved == 0", "node.skew < 1.5"],
          });
          await run.bench({
            name: "hot",
            target: c.address,
            cluster: true,
            tests: ["get"],
            requests: 1000,
            clients: 2,
            keyPrefix: "{h}",
            thresholds: ["node.max_share < 50%"],
          });
        },
      );
      assert.equal(r.phases.length, 2, JSON.stringify(r.error));
      const [ok, hot] = r.phases;
      assert.equal(ok!.state, "passed", JSON.stringify(ok));
      assert.equal(ok!.thresholds.length, 3);
      assert.equal(hot!.state, "failed", JSON.stringify(hot));
      assert.equal(hot!.thresholds[0]!.value, 1);
    } finally {
      await Deno.remove(outDir, { recursive: true });
    }
    // The cluster stopped with the scenario.
    for (const a of addresses) {
      const port = Number(a.slice(a.lastIndexOf(":") + 1));
      await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port }));
    }
  },
);
