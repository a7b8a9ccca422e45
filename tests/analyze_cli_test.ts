import assert from "node:assert/strict";
import { record } from "../mod.ts";
import { chromium, runCli } from "./helpers.ts";

const PUBLIC = new URL("../../shared/data/captures-public/", import.meta.url).pathname;

function attrs(dom: string, re: RegExp): string[][] {
  return [...dom.matchAll(re)].map((m) => m.slice(1));
}

Deno.test("membench analyze of a recorded capture: text, JSON keyed by command, and an HTML report that renders in Chromium with the JSON's numbers", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mbp = `${dir}/t.mbp`;
    await record({
      pcap: PUBLIC + "deepflow/memcached/memcached-userdata.pcap",
      output: mbp,
      ports: [11211],
      salt: "a",
    });
    const r = await runCli(["analyze", mbp, "--json", `${dir}/a.json`, "--html", `${dir}/a.html`]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /10,154 events, 1 connections/);
    assert.match(r.stdout, /get\s+10,041\s+98\.9%/);
    const a = JSON.parse(await Deno.readTextFile(`${dir}/a.json`));
    assert.deepEqual(
      Object.fromEntries(
        Object.entries(a.commands).map(([k, v]) => [k, (v as { count: number }).count]),
      ),
      { get: 10041, gets: 112, set: 1 },
    );
    const get = a.commands.get;
    assert.equal(
      (get.statuses.hit ?? 0) + (get.statuses.miss ?? 0) + (get.statuses.none ?? 0),
      10041,
    );
    assert.equal(a.commands.gets.hitRatio, 1);
    assert.equal(a.keys.method, "exact");
    // The page: no console errors, and the charts hold the numbers of the JSON.
    const { dom, log } = await chromium(`${dir}/a.html`);
    assert.doesNotMatch(log, /Uncaught|CONSOLE.*error|Failed to load/i, log);
    assert.match(dom, /<h1>membench analysis<\/h1>/);
    assert.equal(
      attrs(dom, /id="fact-events" data-value="(\d+)"/g)[0]![0],
      String(a.totals.events),
    );
    const bars = Object.fromEntries(
      attrs(dom, /class="bar" data-label="([^"]+)" data-value="([\d.]+)"/g).map((
        [k, v],
      ) => [k, Number(v)]),
    );
    for (const [k, v] of Object.entries(a.commands)) {
      assert.equal(bars[k], (v as { count: number }).count, k);
    }
    assert.equal(bars["get p50"], get.latencyUs.p50);
    const pts = attrs(
      dom,
      /class="point" data-series="accesses by rank" data-x="([\d.]+)" data-y="([\d.]+)"/g,
    )
      .map(([x, y]) => [Number(x), Number(y)]);
    assert.deepEqual(pts, a.keys.rankFrequency);
    const embedded = /<script type="application\/json" id="analysis">([\s\S]*?)<\/script>/.exec(
      dom,
    )![1]!;
    assert.deepEqual(JSON.parse(embedded), a);
    for (
      const id of [
        "chart-mix",
        "chart-sizes",
        "chart-rate",
        "chart-popularity",
        "chart-working-set",
        "chart-latency",
      ]
    ) {
      assert.match(dom, new RegExp(`<svg id="${id}"`), id);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("membench analyze marks a truncated profile partial and rejects a corrupted one with exit 5", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mbp = `${dir}/t.mbp`;
    await record({
      pcap: PUBLIC + "zeek/redis/bulk-loading.pcap",
      output: mbp,
      ports: [6379],
      salt: "a",
    });
    const bytes = await Deno.readFile(mbp);
    await Deno.writeFile(`${dir}/cut.mbp`, bytes.subarray(0, bytes.length - 30));
    const cut = await runCli(["analyze", `${dir}/cut.mbp`, "--json", "-"]);
    assert.equal(cut.code, 0, cut.stderr);
    assert.match(cut.stderr, /warning: Profile .*cut\.mbp is truncated/);
    assert.equal(JSON.parse(cut.stdout).profile.partial, true);
    const bad = bytes.slice();
    bad[40] = bad[40]! ^ 0xff;
    await Deno.writeFile(`${dir}/bad.mbp`, bad);
    const b = await runCli(["analyze", `${dir}/bad.mbp`]);
    assert.equal(b.code, 5);
    assert.match(b.stderr, /Cannot read profile .*bad\.mbp at byte \d+/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("membench profile info, verify and dump show the header, the salt fingerprint, the counts and every event", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const mbp = `${dir}/t.mbp`;
    const rec = await record({
      pcap: PUBLIC + "zeek/redis/bulk-loading.pcap",
      output: mbp,
      ports: [6379],
      salt: "info",
    });
    const info = await runCli(["profile", "info", mbp, "--json", "-"]);
    assert.equal(info.code, 0, info.stderr);
    const j = JSON.parse(info.stdout);
    assert.equal(j.header.anonymization.saltFingerprint, rec.saltFingerprint);
    assert.equal(j.events, 1001);
    assert.deepEqual(j.footer.opCounts, { set: 1000, echo: 1 });
    assert.equal(j.truncated, false);
    const text = await runCli(["profile", "info", mbp]);
    assert.match(text.stdout, new RegExp(`salt fingerprint ${rec.saltFingerprint}`));
    const v = await runCli(["profile", "verify", mbp]);
    assert.equal(v.code, 0);
    assert.match(v.stdout, /^ok: 1001 events in 1 blocks/);
    const d = await runCli(["profile", "dump", mbp]);
    const lines = d.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.equal(lines.length, 1001);
    assert.equal(
      lines.filter((e) => e.op === "set" && e.status === "stored" && e.valueLen > 0).length,
      1000,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
