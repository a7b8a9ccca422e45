// The command catalogue's own consistency (tests/command_catalogue_test.ts checks it against
// redis-server and memcached): names, the memcached <-> RESP mapping, and what analysis and
// capture rely on.
import assert from "node:assert/strict";
import {
  type CommandInfo,
  COMMON_FORMS,
  type CommonOp,
  commonOp,
  findCommand,
  MEMCACHE_COMMANDS,
  memcacheCommand,
  RESP_COMMANDS,
  respCommand,
} from "./mod.ts";

Deno.test("catalogue names are lower case and unique per family; subcommands sit under their container", () => {
  for (
    const [family, list] of [["resp", RESP_COMMANDS], ["memcache", MEMCACHE_COMMANDS]] as const
  ) {
    const seen = new Set<string>();
    for (const c of list) {
      assert.match(c.name, /^[a-z_]+$/, c.name);
      assert.ok(!seen.has(c.name), `${c.name} twice`);
      seen.add(c.name);
      assert.equal(c.family, family, c.name);
      assert.equal(c.form !== undefined, family === "memcache", `${c.name}: form`);
      assert.equal(findCommand(c.name, family), c);
      for (const s of c.subcommands ?? []) {
        assert.match(s.name, new RegExp(`^${c.name}\\|[a-z]+$`), s.name);
        assert.equal(s.subcommands, undefined, s.name);
      }
    }
  }
});

Deno.test("catalogue entries are coherent: keys where eachKey is, pairs with a step of 2, hit rules on what replies with values", () => {
  const all: CommandInfo[] = [...RESP_COMMANDS, ...MEMCACHE_COMMANDS].flatMap((c) => [
    c,
    ...(c.subcommands ?? []),
  ]);
  for (const c of all) {
    const keys = c.firstKey > 0;
    assert.equal(keys, c.keyStep > 0, `${c.name}: a step goes with keys`);
    if (c.eachKey) assert.ok(keys && c.lastKey === -1, `${c.name}: eachKey runs to the end`);
    if (c.value?.kind === "pairs") assert.ok(c.eachKey && c.keyStep === 2, c.name);
    if (c.hits === "keys") assert.equal(c.class, "read", c.name);
    if (c.stores) assert.equal(c.class, "write", c.name);
    if (c.channels) assert.ok(keys && c.class === "other", c.name);
  }
});

Deno.test("names memcached and RESP share agree on what analysis reads (stores)", () => {
  const shared = MEMCACHE_COMMANDS.filter((m) => respCommand(m.name) !== undefined);
  assert.deepEqual(shared.map((m) => m.name).sort(), [
    "append",
    "decr",
    "get",
    "incr",
    "quit",
    "set",
    "touch",
  ]);
  for (const m of shared) assert.equal(m.stores, respCommand(m.name)!.stores, m.name);
  // They differ in the common operation for touch only: Redis' TOUCH sets no TTL.
  const differ = shared.filter((m) => m.common !== respCommand(m.name)!.common).map((m) => m.name);
  assert.deepEqual(differ, ["touch"]);
  assert.equal(commonOp("touch"), "touch");
  assert.equal(commonOp("touch", "resp"), undefined);
});

Deno.test("the memcached <-> RESP mapping names commands the catalogue knows, and maps back where exact", () => {
  for (
    const [op, f] of Object.entries(COMMON_FORMS) as Array<[CommonOp, typeof COMMON_FORMS.get]>
  ) {
    const resp = respCommand(f.resp.toLowerCase());
    const text = memcacheCommand(f.text);
    const meta = memcacheCommand(f.meta);
    assert.ok(resp, `${op}: RESP ${f.resp}`);
    assert.ok(text?.form === "text", `${op}: text ${f.text}`);
    assert.ok(meta?.form === "meta" || f.meta === f.text, `${op}: meta ${f.meta}`);
    // Every memcached op with a RESP form maps back, except where the doc says it is lossy.
    const lossy = ["gets", "gat", "add", "replace", "prepend", "cas"];
    if (!lossy.includes(op)) assert.equal(resp.common, op, `${f.resp} -> ${op}`);
    if (op !== "cas") assert.equal(text.common, op, `${f.text} -> ${op}`);
  }
  // Every common op some command stands for has its forms.
  for (const c of [...RESP_COMMANDS, ...MEMCACHE_COMMANDS]) {
    if (c.common) assert.ok(COMMON_FORMS[c.common], c.name);
  }
});
