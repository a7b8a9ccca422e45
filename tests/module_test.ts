import assert from "node:assert/strict";

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
