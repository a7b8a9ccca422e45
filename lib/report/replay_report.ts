// This module uses no Deno APIs.
import type { ReplayResult } from "../replay/mod.ts";
import { formatRate, formatUs } from "../units/mod.ts";
import { formatServerReport } from "./server_report.ts";

/** The replay result as text. */
export function formatReplayText(r: ReplayResult): string {
  const c = r.config;
  const L: string[] = [];
  L.push(
    `replayed ${c.profile} against ${c.target} (${c.protocol}), speed ${c.speed}, ${r.loops} loop(s), ` +
      `${c.connections} connections (${c.recordedConnections} recorded), io ${c.io}`,
  );
  if (r.warmup) {
    L.push(`warm-up: stored ${r.warmup.keys} keys in ${(r.warmup.durationMs / 1000).toFixed(2)} s`);
  }
  L.push(
    `${r.sent.toLocaleString("en-US")} sent, ${
      r.completed.toLocaleString("en-US")
    } replies, ${r.errors} errors${r.reconnects > 0 ? `, ${r.reconnects} reconnects` : ""}, in ${
      (r.durationMs / 1000).toFixed(2)
    } s ` +
      `(${formatRate(r.completed / Math.max(0.001, r.durationMs / 1000))}/s)` +
      (c.speed !== "max"
        ? `; lateness p50 ${formatUs(r.lateness.p50Us)}, p99 ${
          formatUs(r.lateness.p99Us)
        }, ${r.late} late sends`
        : ""),
  );
  const skipped = Object.entries(r.skipped);
  if (skipped.length > 0) {
    L.push(
      `skipped (cannot be rebuilt faithfully in ${c.protocol}; never sent changed): ${
        skipped.map(([k, v]) => `${k} ${v}`).join(", ")
      }`,
    );
  }
  L.push("");
  L.push("command   recorded      sent   hit ratio rec -> replay   p50        p99        errors");
  for (const x of r.commands) {
    const lat = x.responseTime ?? x.serviceTime;
    const hr = x.hits !== undefined && x.recordedHits !== undefined
      ? `${pct(x.recordedHits, x.recordedMisses!)} -> ${pct(x.hits, x.misses!)}`
      : "-";
    L.push(
      `${x.op.padEnd(8)} ${String(x.recorded).padStart(9)} ${String(x.sent).padStart(9)}   ${
        hr.padEnd(22)
      } ${formatUs(lat.p50Us).padEnd(10)} ${formatUs(lat.p99Us).padEnd(10)} ${
        Object.entries(x.errors).map(([k, v]) => `${k}:${v}`).join(" ") || "0"
      }`,
    );
  }
  if (r.cluster) {
    const cl = r.cluster;
    const total = cl.nodes.reduce((a, n) => a + n.requests, 0);
    L.push("");
    L.push(
      `cluster: ${cl.nodes.length} nodes; keys routed by recorded slot ${cl.recordedSlot}, by ` +
        `their replayed name ${cl.ownSlot}` +
        (cl.slotsKept ? "" : " (the profile kept no slots: record --keep-slots)") +
        `, keyless ${cl.keyless}; skew ${cl.skew.toFixed(2)}` +
        (cl.resent > 0 ? `; ${cl.resent} redirected requests sent again` : "") +
        (cl.crossSlot > 0
          ? `; ${cl.crossSlot} requests refused as CROSSSLOT (keys in several slots)`
          : ""),
    );
    L.push("node                     role      requests   share  moved    ask");
    for (const n of cl.nodes) {
      L.push(
        `${n.address.padEnd(24)} ${n.role.padEnd(8)} ${String(n.requests).padStart(9)}  ${
          (total > 0 ? (100 * n.requests / total).toFixed(1) + "%" : "-").padStart(6)
        } ${String(n.moved).padStart(6)} ${String(n.ask).padStart(6)}`,
      );
    }
  }
  L.push("");
  const f = r.fidelity;
  L.push(
    `fidelity: mix max diff ${
      Math.max(0, ...f.mix.map((m) => m.diff)).toFixed(4)
    }, hit ratio max diff ${
      Math.max(0, ...f.hitRatio.map((h) => h.diff)).toFixed(4)
    }, size KS ${f.sizeKs}, rate error ${f.rateError}`,
  );
  const rises = (f.errorRatio ?? []).filter((e) => e.rise > 0);
  if (rises.length > 0) {
    L.push(
      `error ratio rose: ${
        rises.map((e) => `${e.op} ${pct1(e.recorded)} -> ${pct1(e.replayed)}`).join(", ")
      }`,
    );
  }
  if (r.verification) {
    const v = r.verification;
    L.push(
      `server counters vs the profile's requests: diff ${v.diff}` +
        (v.commands.some((x) => x.server !== x.expected)
          ? ` (${
            v.commands.filter((x) => x.server !== x.expected)
              .map((x) => `${x.command} ${x.server}/${x.expected}`).join(", ")
          })`
          : " (every command as recorded)"),
    );
    if (v.caveat) L.push(`  (${v.caveat})`);
  }
  for (const ch of f.checks) {
    L.push(`  check ${ch.name} = ${ch.value} <= ${ch.limit} ... ${ch.pass ? "ok" : "FAILED"}`);
  }
  if (r.server) {
    const client: Record<string, number> = {};
    for (const x of r.commands) client[x.op.toLowerCase()] = x.serviceTime.meanUs;
    L.push("", formatServerReport(r.server, client).trimEnd());
  }
  if (r.interrupted) L.push("Interrupted: the results above are partial.");
  return L.join("\n");
}

function pct1(x: number): string {
  return `${(x * 100).toFixed(1)}%`;
}

function pct(h: number, m: number): string {
  return h + m === 0 ? "-" : `${((h / (h + m)) * 100).toFixed(1)}%`;
}
