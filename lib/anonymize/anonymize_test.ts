import assert from "node:assert/strict";
import { Anonymizer, clusterSlot, SipHash24 } from "./mod.ts";

const te = new TextEncoder();
// The reference vectors of the SipHash paper (key 00..0f, messages 00.., lengths 0..15).
const VECTORS = [
  "726fdb47dd0e0e31",
  "74f839c593dc67fd",
  "0d6c8009d9a94f5a",
  "85676696d7fb7e2d",
  "cf2794e0277187b7",
  "18765564cd99a68d",
  "cbc9466e58fee3ce",
  "ab0200f58b01d137",
  "93f5f5799a932462",
  "9e0082df0ba9e4b0",
  "7a5dbbc594ddb9f3",
  "f4b32f46226bada7",
  "751e8fbc860ee5fb",
  "14ea5627c0843d90",
  "f723ca908e7af2ee",
  "a129ca6149be45e5",
];

Deno.test("SipHash24 matches the reference vectors, also inside a larger buffer", () => {
  const h = new SipHash24(Uint8Array.from({ length: 16 }, (_, i) => i));
  for (let n = 0; n < 16; n++) {
    const msg = Uint8Array.from({ length: n }, (_, i) => i);
    h.hash(msg, 0, n);
    assert.equal(h.hex(), VECTORS[n], `length ${n}`);
    const padded = new Uint8Array(n + 7).fill(0xaa);
    padded.set(msg, 3);
    h.hash(padded, 3, 3 + n);
    assert.equal(h.hex(), VECTORS[n], `length ${n} at offset 3`);
  }
});

Deno.test("Anonymizer: same salt, same hash and fingerprint; another salt, different ones", async () => {
  const key = te.encode("user:1234:profile");
  const a = await Anonymizer.create({ salt: "pepper" });
  const b = await Anonymizer.create({ salt: "pepper" });
  const c = await Anonymizer.create({ salt: "hex:70657070657221" });
  const r = await Anonymizer.create();
  a.hashKey(key, 0, key.length);
  b.hashKey(key, 0, key.length);
  c.hashKey(key, 0, key.length);
  r.hashKey(key, 0, key.length);
  assert.equal(a.hex(), b.hex());
  assert.equal(a.fingerprint, b.fingerprint);
  assert.match(a.fingerprint, /^[0-9a-f]{16}$/);
  assert.notEqual(a.hex(), c.hex());
  assert.notEqual(a.fingerprint, c.fingerprint);
  assert.notEqual(a.hex(), r.hex(), "a fresh random salt when none is given");
  assert.ok(
    !a.fingerprint.includes(Array.from(te.encode("pepper"), (x) => x.toString(16)).join("")),
  );
  await assert.rejects(Anonymizer.create({ salt: "hex:abc" }), /even number of hex digits/);
  await assert.rejects(Anonymizer.create({ salt: "" }), /salt: it is empty/);
});

Deno.test("Anonymizer keepTokens shares the high half between keys of one namespace", async () => {
  const a = await Anonymizer.create({ salt: "s", keepTokens: 2 });
  const h = (k: string) => {
    const b = te.encode(k);
    a.hashKey(b, 0, b.length);
    return [a.hi, a.lo];
  };
  const [h1, l1] = h("app:user:1");
  const [h2, l2] = h("app:user:2");
  const [h3] = h("app:session:1");
  assert.equal(h1, h2);
  assert.notEqual(l1, l2);
  assert.notEqual(h1, h3);
});

Deno.test("clusterSlot follows Redis: CRC16 mod 16384, hash tags", () => {
  const s = (k: string) => {
    const b = te.encode(k);
    return clusterSlot(b, 0, b.length);
  };
  assert.equal(s("{user1000}.following"), s("user1000"));
  assert.equal(s("foo{}{bar}"), s("foo{}{bar}"));
  assert.notEqual(s("foo{}{bar}"), s("bar"), "an empty tag is no tag");
  assert.equal(s("foo{{bar}}zap"), s("{bar"));
  assert.ok(s("anything") >= 0 && s("anything") < 16384);
});
