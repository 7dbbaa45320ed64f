/**
 * FTP figures for issue 5, against a real hub in this process (so VmHWM is
 * the hub's; the clients are separate Python processes):
 *   1. per-file overhead: 200 × 4 KiB STOR on one ftplib connection;
 *   2. 1000 consecutive 4 KiB STORs on one connection: failures;
 *   3. peak RSS (VmHWM) during 8 concurrent 64 MiB FTPS uploads.
 *
 * Usage: deno run -A bench/ftp_measure.ts
 *
 * @module
 */
import { listenerPort, startTestHub, TEST_SECRETS } from "../tests/helpers/hub_fixture.ts";
import { runFtpClient } from "../tests/helpers/ftp_clients.ts";

const print = (line: string) => Deno.stdout.writeSync(new TextEncoder().encode(line + "\n"));

function vm(field: "VmHWM" | "VmRSS"): number {
  const status = Deno.readTextFileSync("/proc/self/status");
  return Number(status.match(new RegExp(`${field}:\\s+(\\d+)`))?.[1] ?? 0) / 1024;
}

const login = (tls: boolean) => [
  { op: "connect", tls },
  { op: "login", user: TEST_SECRETS.ftpUser, password: TEST_SECRETS.ftpPassword },
];

const fx = await startTestHub({
  env: { FTP_REQUIRE_TLS: "false", FTP_PASV_MIN: "0", FTP_PASV_MAX: "0", LOG_LEVEL: "error" },
});
try {
  const port = listenerPort(fx.hub, "ftp");
  const small = await runFtpClient(port, [...login(false), {
    op: "stor_many",
    count: 200,
    size: 4096,
  }]);
  const s = small[2]!;
  print(
    `200 x 4 KiB STOR, one connection: ${
      (s.seconds! * 1000 / 200).toFixed(2)
    } ms/file, ${s.failed} failed`,
  );
  const many = await runFtpClient(port, [...login(false), {
    op: "stor_many",
    count: 1000,
    size: 4096,
  }]);
  const m = many[2]!;
  print(
    `1000 x 4 KiB STOR, one connection: ${
      (m.seconds! * 1000 / 1000).toFixed(2)
    } ms/file, ${m.failed} failed ${JSON.stringify(m.failures)}`,
  );
  print(
    `RSS before the big uploads: ${vm("VmRSS").toFixed(0)} MiB (VmHWM so far ${
      vm("VmHWM").toFixed(0)
    } MiB)`,
  );
  const started = performance.now();
  const big = await Promise.all(
    Array.from({ length: 8 }, (_, i) =>
      runFtpClient(port, [...login(true), {
        op: "stor",
        path: `big_${i}.bin`,
        size: 64 << 20,
        seed: i,
      }])),
  );
  const seconds = (performance.now() - started) / 1000;
  const ok = big.filter((r) => r[2]?.code === 226).length;
  print(
    `8 x 64 MiB FTPS at once: ${ok}/8 got 226 in ${seconds.toFixed(1)} s (${
      (8 * 64 / seconds).toFixed(0)
    } MiB/s incl. client data generation); hub VmHWM ${vm("VmHWM").toFixed(0)} MiB`,
  );
} finally {
  await fx.stop();
}
