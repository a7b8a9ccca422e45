import assert from "node:assert/strict";
import { MembenchError } from "../errors/mod.ts";
import { evaluateThreshold, parseThreshold } from "./threshold.ts";
import { redactSecrets } from "./redact.ts";
import { redactUri } from "../net/mod.ts";

Deno.test("parseThreshold() reads metrics, comparators and units into base units", () => {
  const cases: Array<[string, string, string, number, string]> = [
    ["get.p99 < 2ms", "get.p99", "<", 2000, "time"],
    ["get.p99 < 2 ms", "get.p99", "<", 2000, "time"],
    ["get.p99<2ms", "get.p99", "<", 2000, "time"],
    ["  set.p(99.9) <= 1.5 s ", "set.p999", "<=", 1_500_000, "time"],
    ["mix.get.p(95) < 800us", "mix.get.p95", "<", 800, "time"],
    ["get.max < 250µs", "get.max", "<", 250, "time"],
    ["latency.p50 < 500ns", "latency.p50", "<", 0.5, "time"],
    ["hit_ratio >= 0.9", "hit_ratio", ">=", 0.9, "any"],
    ["hit_ratio >= 90%", "hit_ratio", ">=", 0.9, "ratio"],
    ["ops > 50k", "ops", ">", 50_000, "any"],
    ["ops > 1.2M/s", "ops", ">", 1_200_000, "rate"],
    ["errors == 0", "errors", "==", 0, "any"],
    ["errors != 1", "errors", "!=", 1, "any"],
    ["value_bytes.p99 <= 4KiB", "value_bytes.p99", "<=", 4096, "bytes"],
    ["value_bytes.p99 <= 300", "value_bytes.p99", "<=", 300, "any"],
    ["recall@10 >= 0.95", "recall@10", ">=", 0.95, "any"],
    ["fidelity.size_ks < .05", "fidelity.size_ks", "<", 0.05, "any"],
    ["delta > -3", "delta", ">", -3, "any"],
  ];
  for (const [input, metric, comparator, value, expects] of cases) {
    const t = parseThreshold(input);
    assert.deepEqual(
      [t.metric, t.comparator, t.value, t.expects],
      [metric, comparator, value, expects],
      input,
    );
  }
});

Deno.test("parseThreshold() errors quote the input and name the column", () => {
  const cases: Array<[string, RegExp]> = [
    [
      "get.p99 < 2",
      /^Cannot parse threshold "get\.p99 < 2": get\.p99 is a time: give a time unit \(us, ms or s\) after 2 \(at column 12\)$/,
    ],
    ["get.p99 2ms", /expected one of < <= > >= == != after the metric, found "2" \(at column 9\)/],
    ["get.p99 <", /the value is missing \(at column 10\)/],
    ["< 2ms", /unexpected "<" \(at column 1\)/],
    ["", /the metric name is missing \(at column 1\)/],
    ["get.p99 < 2msec", /unknown unit "msec" \(use ns, us, ms, s, %, B, KiB, MiB, k, M or \/s\)/],
    ["get.p99 < 2 hours", /unknown unit "hours"/],
    ["hit_ratio >= 0.9 or so", /unexpected "or so" after the value/],
    ["errors < 2ms", /errors is not a time, but the value has the time unit ms/],
    ["get.p(120) < 2ms", /a percentile is written p\(N\) with 0 < N <= 100/],
    ["get. < 2ms", /unexpected " " \(at column 5\)/],
    ["ops > 5x", /unknown unit "x"/],
  ];
  for (const [input, re] of cases) {
    assert.throws(() => parseThreshold(input), (e: unknown) => {
      assert.ok(e instanceof MembenchError, input);
      assert.equal(e.code, "invalid_argument");
      assert.ok(
        e.message.startsWith(`Cannot parse threshold ${JSON.stringify(input)}: `),
        e.message,
      );
      assert.match(e.message, re, input);
      return true;
    });
  }
});

Deno.test("evaluateThreshold() compares, and fails with a reason on missing, ambiguous or mismatched metrics", () => {
  const m = {
    "get.p99": { value: 1500, kind: "time" as const },
    "hit_ratio": { value: 0.93, kind: "ratio" as const },
    "ops": { value: 51_000, kind: "rate" as const },
    "errors": { value: 0, kind: "count" as const },
    "set.p99": { value: NaN, kind: "time" as const, ambiguous: ["a.set.p99", "b.set.p99"] },
  };
  const ev = (s: string) => evaluateThreshold(parseThreshold(s), m);
  assert.equal(ev("get.p99 < 2ms").pass, true);
  assert.equal(ev("get.p99 < 1ms").pass, false);
  assert.equal(ev("get.p99 <= 1.5ms").pass, true);
  assert.equal(ev("hit_ratio >= 90%").pass, true);
  assert.equal(ev("hit_ratio >= 0.95").pass, false);
  assert.equal(ev("ops > 50k").pass, true);
  assert.equal(ev("ops > 50k/s").pass, true);
  assert.equal(ev("errors == 0").pass, true);
  assert.equal(ev("errors > 0").pass, false);
  assert.match(
    ev("set.p99 < 1ms").reason!,
    /set\.p99 is ambiguous: write one of a\.set\.p99, b\.set\.p99/,
  );
  assert.match(ev("del.p99 < 1ms").reason!, /no metric named del\.p99; some that exist: get\.p99/);
  assert.match(ev("errors < 5%").reason!, /errors is a count, not a ratio: drop the %/);
  assert.match(ev("errors > 1k/s").reason!, /errors is a count, not a rate/);
  const r = ev("get.p99 < 1ms");
  assert.deepEqual(r, {
    threshold: "get.p99 < 1ms",
    limit: 1000,
    value: 1500,
    kind: "time",
    pass: false,
  });
});

Deno.test("redactSecrets() hides passwords, salts and URI credentials, keeps shared objects", () => {
  const shared = { version: "7.0.15" };
  const out = redactSecrets({
    target: "redis://app:s3cret@10.0.0.1:6379/0",
    list: ["rediss://:pw@h:1", "memcache://h:11211"],
    password: "s3cret",
    salt: new Uint8Array([1, 2, 3]),
    keepTokens: 2,
    nested: { auth: "x", apiKey: "k", pass: true },
    a: shared,
    b: shared,
  });
  assert.deepEqual(out, {
    target: "redis://app:***@10.0.0.1:6379/0",
    list: ["rediss://:***@h:1", "memcache://h:11211"],
    password: "***",
    salt: "***",
    keepTokens: 2,
    nested: { auth: "***", apiKey: "***", pass: true },
    a: { version: "7.0.15" },
    b: { version: "7.0.15" },
  });
  const cyc: Record<string, unknown> = { x: 1 };
  cyc["self"] = cyc;
  assert.deepEqual(redactSecrets(cyc), { x: 1, self: "[cycle]" });
  assert.equal(
    redactUri("failed: redis://u:p@h:1 and redis://h:2"),
    "failed: redis://u:***@h:1 and redis://h:2",
  );
});
