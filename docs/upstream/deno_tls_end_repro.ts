// deno-lint-ignore-file no-console -- a standalone reproduction for upstream, printing its verdict
// Minimal reproduction: a server-side node:tls socket that is paused when the peer's
// end-of-stream (TLS close_notify + TCP FIN) arrives never emits 'end' after resume() in Deno.
// Node.js emits 'end'. Plain node:net sockets behave correctly in both.
//
//   deno run --allow-net=127.0.0.1 --allow-read=. deno_tls_end_repro.ts [tls|net]
//   node deno_tls_end_repro.ts                   (Node >= 22.6 with --experimental-strip-types, or rename to .mjs)
// Needs key.pem/cert.pem in cwd:
//   openssl ecparam -name prime256v1 -genkey -noout -out key.pem
//   openssl req -new -x509 -key key.pem -out cert.pem -days 365 -subj /CN=127.0.0.1
import net from "node:net";
import tls from "node:tls";
import fs from "node:fs";
import process from "node:process";

const mode = process.argv[2] === "net" ? "net" : "tls";
const TOTAL = 4 * 1024 * 1024; // bytes sent by the client before it ends
const key = fs.readFileSync("key.pem"), cert = fs.readFileSync("cert.pem");

const onSocket = (sock: net.Socket) => {
  let received = 0;
  sock.on("data", (d: Buffer) => {
    received += d.length;
    // Simulate a slow consumer (like pipe() into a file with backpressure):
    // pause on every chunk, resume a little later.
    sock.pause();
    setTimeout(() => sock.resume(), 1);
  });
  sock.on("end", () => {
    console.log(`[${mode}] server 'end' received after ${received} bytes: OK`);
    sock.end();
    server.close();
    clearTimeout(watchdog);
  });
  const watchdog = setTimeout(() => {
    console.log(
      `[${mode}] BUG: no 'end' within 5s; received=${received}/${TOTAL} ` +
        `readableEnded=${sock.readableEnded} isPaused=${sock.isPaused()} destroyed=${sock.destroyed}`,
    );
    process.exit(1);
  }, 5000);
};

const server = mode === "tls"
  ? tls.createServer({ key, cert }, onSocket)
  : net.createServer(onSocket);

server.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as net.AddressInfo;
  const opts = { host: "127.0.0.1", port, rejectUnauthorized: false };
  const client = mode === "tls" ? tls.connect(opts) : net.connect(opts);
  client.once(mode === "tls" ? "secureConnect" : "connect", () => {
    client.end(Buffer.alloc(TOTAL, 0x61)); // write everything, then half-close
  });
  client.on("data", () => {});
  client.on("error", () => {});
});
