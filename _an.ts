import { analyzeProfile } from "./lib/analyze/mod.ts";
const a = await analyzeProfile(Deno.args[0]!);
console.log(JSON.stringify({ totals: a.totals, cmds: Object.fromEntries(Object.entries(a.commands).map(([k, v]) => [k, { count: v.count, hit: v.hitRatio, vl: v.valueLength.p50, lat: v.latencyUs.p50 }])), keys: { ...a.keys, rankFrequency: a.keys.rankFrequency.length, workingSet: a.keys.workingSet.perInterval.length, reuseTimeUs: a.keys.reuseTimeUs.p50 }, conns: a.connections.top[0] }, null, 1));
