import assert from "node:assert/strict";
import { bench, freePort, MembenchError, startLocalServer } from "../mod.ts";
import { commandStats, loadTest, runCli, until } from "./helpers.ts";

async function makeCerts(dir: string): Promise<void> {
  const run = async (args: string[]) => {
    const r = await new Deno.Command("openssl", { args, cwd: dir, stdout: "null", stderr: "piped" })
      .output();
    if (r.code !== 0) {
      throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(r.stderr)}`);
    }
  };
  await run([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=membench test CA",
  ]);
  await Deno.writeTextFile(`${dir}/ext.cnf`, "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  for (const name of ["server", "client"]) {
    await run([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${name === "server" ? "localhost" : "membench client"}`,
    ]);
    await run([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.crt",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.crt`,
      "-days",
      "2",
      "-extfile",
      "ext.cnf",
    ]);
  }
}

loadTest("bench over TLS with a CA and a client certificate (mutual TLS)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "membench-tls-" });
  try {
    await makeCerts(dir);
    const tlsPort = freePort();
    // The TLS port is the only one: the plain port is off.
    await using tls = await startLocalServer("redis", {
      port: tlsPort,
      args: [
        "--port",
        "0",
        "--tls-port",
        String(tlsPort),
        "--tls-cert-file",
        `${dir}/server.crt`,
        "--tls-key-file",
        `${dir}/server.key`,
        "--tls-ca-cert-file",
        `${dir}/ca.crt`,
        "--tls-auth-clients",
        "yes",
      ],
    });
    const r = await runCli([
      "bench",
      "-p",
      String(tls.port),
      "--tls",
      "--cacert",
      `${dir}/ca.crt`,
      "--cert",
      `${dir}/client.crt`,
      "--key",
      `${dir}/client.key`,
      "-t",
      "set,get",
      "-n",
      "2000",
      "-c",
      "4",
      "--json",
      "-",
    ]);
    assert.equal(r.code, 0, r.stderr);
    const json = JSON.parse(r.stdout);
    assert.equal(json.config.tls, true);
    assert.equal(json.tests[1].requests, 2000);
    // Without the CA, the handshake fails with a clear message and the connection exit code.
    const bad = await runCli(["bench", "-p", String(tls.port), "--tls", "-t", "ping", "-n", "10"]);
    assert.equal(bad.code, 3);
    assert.match(
      bad.stderr,
      new RegExp(`127\\.0\\.0\\.1:${tls.port}: .*(TLS|certificate|issuer)`, "i"),
    );
    // Plain text to the TLS port: the connection exit code and a hint, never a stack trace.
    for (const io of ["uring", "deno"]) {
      const plain = await runCli([
        "bench",
        "-p",
        String(tls.port),
        "-t",
        "get",
        "-n",
        "100",
        "--io",
        io,
      ]);
      assert.equal(plain.code, 3, `--io ${io}: ${plain.stderr}`);
      assert.match(plain.stderr, /TLS port\?[\s\S]*add --tls/, `--io ${io}: ${plain.stderr}`);
      assert.doesNotMatch(plain.stderr, /internal error| {4}at /, `--io ${io}: ${plain.stderr}`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

loadTest(
  "bench with an ACL user works, and a wrong password is a clear auth error that hides the password",
  async () => {
    await using srv = await startLocalServer("redis", { args: ["--requirepass", "rootpw"] });
    // An ACL user allowed only the commands it needs.
    const setup = await runCli([
      "bench",
      "-p",
      String(srv.port),
      "-a",
      "rootpw",
      "-n",
      "1",
      "-c",
      "1",
      "ACL",
      "SETUSER",
      "bench",
      "on",
      ">benchpw",
      "~*",
      "+set",
      "+get",
      "+ping",
      "+client|setname",
    ]);
    assert.equal(setup.code, 0, setup.stderr);
    const before = await commandStats(srv.address, "rootpw");
    const ok = await bench({
      target: `redis://bench:benchpw@${srv.address}`,
      tests: ["set", "get"],
      requests: 1000,
      clients: 2,
    });
    assert.equal(ok.config.password, "***");
    assert.equal(ok.config.user, "bench");
    assert.ok(!JSON.stringify(ok).includes("benchpw"));
    const after = await commandStats(srv.address, "rootpw");
    assert.equal(after.set! - (before.set ?? 0), 1000);
    // Not allowed: ACL denies the command; counted per error code, not a crash.
    const denied = await bench({
      target: srv.address,
      user: "bench",
      password: "benchpw",
      tests: ["incr"],
      requests: 100,
      clients: 1,
    });
    assert.equal(denied.tests[0]!.commands[0]!.errors.NOPERM, 100);
    // Wrong password: library error and CLI exit code 3, password not shown.
    await assert.rejects(
      () =>
        bench({
          target: srv.address,
          user: "bench",
          password: "nope-secret",
          tests: ["ping"],
          requests: 10,
        }),
      (e: unknown) =>
        e instanceof MembenchError && e.code === "auth" && /WRONGPASS/.test(e.message) &&
        !e.message.includes("nope-secret") && e.message.includes(srv.address),
    );
    const cli = await runCli([
      "bench",
      "-p",
      String(srv.port),
      "-a",
      "nope-secret",
      "-t",
      "ping",
      "-n",
      "10",
    ]);
    assert.equal(cli.code, 3);
    assert.match(
      cli.stderr,
      new RegExp(`membench: 127\\.0\\.0\\.1:${srv.port}: AUTH failed: WRONGPASS`),
    );
    assert.ok(!cli.stderr.includes("nope-secret") && !cli.stdout.includes("nope-secret"));
    // The password from REDISCLI_AUTH (not on the command line), as redis-cli takes it.
    const fromEnv = await runCli(
      ["bench", "-p", String(srv.port), "-t", "ping", "-n", "10", "--json", "-"],
      { REDISCLI_AUTH: "rootpw" },
    );
    assert.equal(fromEnv.code, 0, fromEnv.stderr);
    assert.equal(JSON.parse(fromEnv.stdout).tests[0].requests, 10);
    assert.ok(!fromEnv.stdout.includes("rootpw") && !fromEnv.stderr.includes("rootpw"));
  },
);

loadTest(
  "CLI: a refused port, bad flags and bad values give clear errors with distinct exit codes",
  async () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (l.addr as Deno.NetAddr).port;
    l.close();
    const refused = await runCli(["bench", "-p", String(port), "-c", "5", "-n", "10"]);
    assert.equal(refused.code, 3);
    assert.equal(
      refused.stderr.trim().split("\n")[0],
      `membench: 127.0.0.1:${port}: connection refused`,
    );
    const unknown = await runCli(["bench", "--clinets", "5"]);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /Unknown flag '--clinets' \(did you mean '--clients'\?\)/);
    const badInt = await runCli(["bench", "-c", "zero"]);
    assert.equal(badInt.code, 2);
    assert.match(badInt.stderr, /flag '--clients'.*"zero"/);
    const missing = await runCli(["bench", "-n"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /'-n, --requests' needs a value|--requests/);
    const badTest = await runCli(["bench", "-t", "sett", "-p", "1"]);
    assert.equal(badTest.code, 2);
    assert.match(badTest.stderr, /unknown test name.*"sett"/);
    // Several problems at once are all reported.
    const many = await runCli([
      "bench",
      "--key-pattern",
      "zipf:-1",
      "--data-size-range",
      "10-5",
      "-p",
      "1",
    ]);
    assert.equal(many.code, 2);
    assert.match(many.stderr, /key-pattern/);
    assert.match(many.stderr, /minimum is larger/);
    const help = await runCli(["bench", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /--pipeline/);
  },
);

loadTest("CLI: SIGINT stops a running bench, prints the partial result and exits 130", async () => {
  await using srv = await startLocalServer("redis");
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../cli/main.ts", import.meta.url).pathname,
      "bench",
      "-p",
      String(srv.port),
      "-t",
      "set",
      "--duration",
      "30s",
      "-c",
      "4",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // SIGINT once the load is running (the server counts SETs), however slowly the CLI started.
  await until(
    "the bench's SETs reach the server",
    async () => ((await commandStats(srv.address))["set"] ?? 0) > 0,
  );
  await new Promise((r) => setTimeout(r, 500));
  child.kill("SIGINT");
  const out = await child.output();
  const stdout = new TextDecoder().decode(out.stdout);
  assert.equal(out.code, 130);
  assert.match(stdout, /== set: [\d,]+ ops\/s/);
  assert.match(stdout, /Interrupted: the results above are partial/);
});
