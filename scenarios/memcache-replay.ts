/**
 * memcache-replay: record production-like memcached traffic from a capture, look at its shape,
 * and replay it against a test server, checking that the replay was faithful.
 *
 * The phases:
 *   1. record  reads a pcap file, reassembles TCP, pairs every request with its response and
 *              writes an anonymized profile: keys become salted hashes plus their lengths, and
 *              no key or value byte is kept.
 *   2. analyze summarizes the profile (command mix, hit ratio, key and value sizes, popularity)
 *              and writes an HTML report next to the JSON summary.
 *   3. replay  plays the profile against memcached: one connection per recorded connection, the
 *              same order, at the recorded pace (speed 1). With `warmup`, the keys whose first
 *              access was a hit are stored first, so the replayed hit ratio can match.
 *
 * Run it:
 *   ./node_modules/.bin/deno run -A scenarios/memcache-replay.ts
 *   MEMBENCH_PCAP=/path/to/your.pcap MEMBENCH_TARGET=memcache://10.0.0.5:11211 ./node_modules/.bin/deno run -A scenarios/memcache-replay.ts
 *
 * Without MEMBENCH_TARGET it starts a throwaway memcached on a free loopback port (Debian/Ubuntu:
 * apt-get install memcached). The sample capture is described in scenarios/data/README.md.
 */
import { scenario } from "../mod.ts";

// The capture to record: your own with MEMBENCH_PCAP, else the sample next to this file.
const pcap = Deno.env.get("MEMBENCH_PCAP") ??
  new URL("./data/memcache-sample.pcap", import.meta.url).pathname;

await scenario("memcache-replay", {
  server: "memcached",
  seed: 7,
  // Thresholds can also live here, keyed by phase name: handy to tune them in one place.
  thresholds: {
    replay: [
      "errors == 0",
      // The replayed hit ratio of each read command within 2 points of the recording.
      "fidelity.hit_ratio_diff <= 2%",
      // The value sizes sent follow the recorded ones (Kolmogorov-Smirnov distance, 0 = same).
      "fidelity.size_ks <= 0.05",
    ],
  },
  // Warnings are reported but never fail the run: keeping the recorded schedule depends on how
  // busy this machine is, not only on the server.
  warnings: {
    // Sends kept to the recorded schedule: 99% less than 2 ms late.
    replay: ["lateness.p99 < 2ms"],
  },
}, async (run) => {
  const rec = await run.record({
    pcap,
    ports: [11211], // the server port in the capture
    thresholds: ["gaps == 0", "protocol_errors == 0", "events > 0"],
  });

  const analysis = await run.analyze({
    profile: rec.output,
    html: "memcache-replay.html", // written under the output folder
    thresholds: ["get.hit_ratio > 0"],
  });

  const replayed = await run.replay({
    profile: rec.output,
    speed: 1, // the recorded pace; 2 = twice as fast; "max" = as fast as replies allow
    warmup: true,
  });

  // Checks compare anything you like; here: one request sent per recorded event.
  run.check(
    "every recorded request was sent once",
    replayed.sent === analysis.totals.events,
    `${replayed.sent} sent, ${analysis.totals.events} recorded`,
  );
});
