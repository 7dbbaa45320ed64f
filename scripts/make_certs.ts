/**
 * `deno task certs`: writes a new self-signed development certificate to
 * SSL_CERT / SSL_KEY (default certs/server.crt and certs/server.key).
 * Refuses to overwrite existing files unless `--force` is given.
 *
 * @module
 */
import { resolve } from "node:path";
import { certificateExists, writeDevCertificate } from "../certs/dev_certificate.ts";

const encoder = new TextEncoder();
const say = (text: string) => Deno.stderr.writeSync(encoder.encode(text + "\n"));

const cert = resolve(Deno.env.get("SSL_CERT") ?? "certs/server.crt");
const key = resolve(Deno.env.get("SSL_KEY") ?? "certs/server.key");
if (certificateExists(cert, key) && !Deno.args.includes("--force")) {
  say(`${cert} and ${key} exist already; pass --force to replace them`);
  Deno.exit(1);
}
await writeDevCertificate(cert, key);
say(
  `Wrote a development certificate (ECDSA P-256, SAN localhost, 127.0.0.1, ::1):\n  ${cert}\n  ${key} (mode 600)`,
);
say("Clients trust it with the certificate file as their CA, e.g. curl --cacert " + cert);
