/** Runs `fn` while tcpdump captures loopback traffic to/from `port` into a fresh pcap file. */
export async function captureWhile(
  port: number,
  fn: () => Promise<void>,
  extra: string[] = [],
): Promise<string> {
  return (await captureWithStats(port, fn, extra)).file;
}

/** As {@linkcode captureWhile}, with tcpdump's own closing statistics. */
export async function captureWithStats(
  port: number | readonly number[],
  fn: () => Promise<void>,
  extra: string[] = [],
  iface = "lo",
): Promise<{ file: string; captured: number; droppedByKernel: number; stderr: string }> {
  const file = await Deno.makeTempFile({ suffix: ".pcap" });
  const p = new Deno.Command("tcpdump", {
    args: [
      "-i",
      iface,
      "-U",
      "-s",
      "0",
      "-B",
      "65536",
      "-Z",
      "root",
      "-w",
      file,
      ...extra,
      // One port, or any of several (a cluster's nodes).
      ...(typeof port === "number" ? ["tcp", "port", String(port)] : [
        "tcp",
        "and",
        "(",
        ...port.flatMap((p, i) => [...(i > 0 ? ["or"] : []), "port", String(p)]),
        ")",
      ]),
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  // tcpdump says "listening on lo" on stderr once it captures.
  const reader = p.stderr.getReader();
  let text = "";
  const td = new TextDecoder();
  const deadline = Date.now() + 10_000;
  while (!text.includes("listening on") && Date.now() < deadline) {
    const { value, done } = await reader.read();
    if (done) break;
    text += td.decode(value);
  }
  if (!text.includes("listening on")) {
    try {
      p.kill("SIGKILL");
    } catch { /* it exited by itself */ }
    await p.status;
    throw new Error(`tcpdump did not start: ${text}`);
  }
  try {
    await fn();
    // Buffered mode (cheaper than --immediate-mode under load, so the kernel drops nothing)
    // hands packets over in blocks, at the latest after libpcap's 1 s block timeout: wait it out
    // before stopping, or the last block is lost.
    await new Promise((r) => setTimeout(r, 1300));
  } finally {
    p.kill("SIGINT");
    const drain = (async () => {
      try {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          text += td.decode(value);
        }
      } catch { /* closed */ }
    })();
    await p.status;
    await drain;
  }
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? NaN);
  return {
    file,
    captured: num(/(\d+) packets? captured/),
    droppedByKernel: num(/(\d+) packets? dropped by kernel/),
    stderr: text,
  };
}

/** Requests per command that tshark's memcache dissector finds (`-d tcp.port==PORT,memcache`). */
export async function tsharkMemcacheCommands(
  file: string,
  port: number,
): Promise<Record<string, number>> {
  const out = await new Deno.Command("tshark", {
    args: [
      "-r",
      file,
      "-d",
      `tcp.port==${port},memcache`,
      "-Y",
      "memcache.command",
      "-T",
      "fields",
      "-e",
      "memcache.command",
    ],
    stdout: "piped",
    stderr: "null",
  }).output();
  const counts: Record<string, number> = {};
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    for (const c of line.split(",").filter(Boolean)) counts[c] = (counts[c] ?? 0) + 1;
  }
  return counts;
}

/**
 * Captures `fn`'s traffic with no kernel drops: a capture that lost packets is no reference, so
 * it is taken again (up to 3 times), with `snapshot` (server counters) taken around each try.
 */
export async function captureNoDrops<T>(
  port: number | readonly number[],
  snapshot: () => Promise<T>,
  fn: () => Promise<void>,
): Promise<{ file: string; before: T; after: T }> {
  for (let attempt = 1;; attempt++) {
    const before = await snapshot();
    const cap = await captureWithStats(port, fn);
    const after = await snapshot();
    if (cap.droppedByKernel === 0) return { file: cap.file, before, after };
    await Deno.remove(cap.file);
    if (attempt === 3) throw new Error(`tcpdump dropped packets in 3 captures: ${cap.stderr}`);
  }
}
