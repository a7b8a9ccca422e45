/**
 * membench lint rules: imports between lib/ areas follow the layer table in STYLE.md, and nothing
 * in lib/ imports cli/.
 *
 * @module
 */
export const ALLOWED: Record<string, readonly string[]> = {
  errors: ["errors"],
  units: ["units", "errors"],
  protocol: ["protocol", "errors"],
  metrics: ["metrics", "errors", "units"],
  workload: ["workload", "protocol", "errors", "units"], // the command catalogue
  net: ["net", "protocol", "errors", "units"],
  cluster: ["cluster", "net", "protocol", "errors", "units"],
  // server-side metrics: INFO / stats snapshots of the nodes a run touches
  monitor: ["monitor", "net", "protocol", "errors", "units"],
  anonymize: ["anonymize", "errors"],
  // manifests and a Dockerfile for sharded runs on Kubernetes: pure, no load of its own
  k8s: ["k8s", "errors", "version.ts"],
  profile: ["profile", "protocol", "errors", "units"], // protocol names only
  capture: ["capture", "protocol", "anonymize", "profile", "errors", "units", "version.ts"],
  // DESIGN.md: metrics, workload, units and errors are leaves, importable from everywhere.
  analyze: ["analyze", "profile", "protocol", "metrics", "workload", "errors", "units"],
  bench: [
    "bench",
    "monitor",
    "net",
    "cluster",
    "protocol",
    "workload",
    "metrics",
    "errors",
    "units",
    "version.ts",
  ],
  replay: [
    "replay",
    "analyze", // synthetic mode generates traffic from a profile's analysis
    "profile",
    "monitor",
    "net",
    "cluster",
    "protocol",
    "workload",
    "metrics",
    "errors",
    "units",
    "version.ts",
  ],
  vector: [
    "vector",
    "monitor",
    "net",
    "cluster",
    "protocol",
    "workload",
    "metrics",
    "errors",
    "units",
  ],
  report: ["report", "metrics", "errors", "units"],
  scenario: [
    "scenario",
    "bench",
    "replay",
    "vector",
    "analyze",
    "capture",
    "report",
    "monitor",
    "net",
    "cluster",
    "protocol",
    "workload",
    "metrics",
    "profile",
    "anonymize",
    "errors",
    "units",
    "version.ts",
  ],
};
// report/ may see the result types of these areas, with `import type` only.
export const TYPE_ONLY: Record<string, readonly string[]> = {
  report: ["bench", "replay", "vector", "analyze", "scenario", "monitor"],
};

/** The lib/ area of a path (`bench`, or `version.ts` for a file directly in lib/). */
export function areaOf(path: string): string | undefined {
  const m = path.match(/\/lib\/([a-z_]+)(\/|\.ts$)/);
  if (!m) return undefined;
  return m[2] === "/" ? m[1] : `${m[1]}.ts`;
}

const plugin: Deno.lint.Plugin = {
  name: "membench",
  rules: {
    "layer-imports": {
      create(context) {
        const from = areaOf(context.filename);
        const check = (
          node:
            | Deno.lint.ImportDeclaration
            | Deno.lint.ExportAllDeclaration
            | Deno.lint.ExportNamedDeclaration,
        ) => {
          const src = node.source?.value;
          if (!from || typeof src !== "string" || !src.startsWith(".")) return;
          const target = new URL(src, "file://" + context.filename).pathname;
          if (target.includes("/cli/")) {
            context.report({
              node: node.source!,
              message: `Cannot import cli/ from lib/${from}: lib never depends on the CLI`,
            });
            return;
          }
          const to = areaOf(target);
          if (!to || !(from in ALLOWED)) return;
          if (ALLOWED[from]!.includes(to)) return;
          const typeOnly = node.type === "ImportDeclaration" && node.importKind === "type";
          if (typeOnly && TYPE_ONLY[from]?.includes(to)) return;
          context.report({
            node: node.source!,
            message: `Cannot import lib/${to} from lib/${from}: allowed areas are ${
              ALLOWED[from]!.join(", ")
            }`,
          });
        };
        return {
          ImportDeclaration: check,
          ExportAllDeclaration: check,
          ExportNamedDeclaration: check,
        };
      },
    },
  },
};
export default plugin;
