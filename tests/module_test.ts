import assert from "node:assert/strict";
import { ALLOWED, areaOf, TYPE_ONLY } from "../tools/lint_plugin.ts";

Deno.test("importing mod.ts leaves nothing that keeps a process alive", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "eval",
      `import * as m from "${
        new URL("../mod.ts", import.meta.url).href
      }"; console.log(Object.keys(m).length);`,
    ],
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(20_000),
  }).output();
  assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
  assert.ok(Number(new TextDecoder().decode(out.stdout)) > 50);
});

Deno.test("the module graph has no import cycle, and every import between lib/ areas follows the layer table", async () => {
  const root = new URL("../", import.meta.url).href;
  type Dep = { code?: { specifier: string }; type?: { specifier: string } };
  type Info = { modules: Array<{ specifier: string; dependencies?: Dep[] }> };
  // The graph as Deno resolves it, from both entry points: the library and the CLI.
  const edges = new Map<string, Map<string, "code" | "type">>();
  for (const entry of ["mod.ts", "cli/main.ts"]) {
    const out = await new Deno.Command(Deno.execPath(), {
      args: ["info", "--json", new URL(entry, root).pathname],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.equal(out.code, 0, new TextDecoder().decode(out.stderr));
    const info = JSON.parse(new TextDecoder().decode(out.stdout)) as Info;
    for (const m of info.modules) {
      if (!m.specifier.startsWith(root)) continue;
      const to = edges.get(m.specifier) ?? new Map<string, "code" | "type">();
      edges.set(m.specifier, to);
      for (const d of m.dependencies ?? []) {
        const target = d.code?.specifier ?? d.type?.specifier;
        if (!target?.startsWith(root)) continue;
        to.set(target, d.code ? "code" : to.get(target) ?? "type");
      }
    }
  }
  assert.ok(edges.size > 80, `${edges.size} modules`);
  const short = (s: string) => s.slice(root.length);
  // Cycles, type imports included: a depth-first search that reports the first back edge.
  const state = new Map<string, 1 | 2>();
  const stack: string[] = [];
  const cycles: string[] = [];
  const visit = (m: string) => {
    state.set(m, 1);
    stack.push(m);
    for (const t of edges.get(m)?.keys() ?? []) {
      if (state.get(t) === 1) {
        cycles.push([...stack.slice(stack.indexOf(t)), t].map(short).join(" -> "));
      } else if (!state.has(t)) visit(t);
    }
    stack.pop();
    state.set(m, 2);
  };
  for (const m of edges.keys()) if (!state.has(m)) visit(m);
  assert.deepEqual(cycles, [], `import cycles:\n${cycles.join("\n")}`);
  // The layer table of tools/lint_plugin.ts, over the resolved graph (re-exports included).
  const broken: string[] = [];
  for (const [from, tos] of edges) {
    const a = areaOf(new URL(from).pathname);
    if (!a) continue;
    for (const [to, kind] of tos) {
      const path = new URL(to).pathname;
      if (path.includes("/cli/")) broken.push(`${short(from)} -> ${short(to)}: lib imports cli`);
      const b = areaOf(path);
      if (!b || !(a in ALLOWED) || ALLOWED[a]!.includes(b)) continue;
      if (kind === "type" && TYPE_ONLY[a]?.includes(b)) continue;
      broken.push(`${short(from)} -> ${short(to)} (${kind})`);
    }
  }
  assert.deepEqual(broken, [], `imports that break the layer table:\n${broken.join("\n")}`);
});
