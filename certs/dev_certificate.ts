/**
 * Makes a self-signed development certificate: ECDSA P-256 (cheap
 * handshakes), SAN `localhost`, `127.0.0.1` and `::1`, valid for one year.
 * Pure WebCrypto through `@peculiar/x509`, so no openssl is needed.
 *
 * @module
 */
import { dirname } from "node:path";

/**
 * Loads `@peculiar/x509` on first use only: it costs about 11 MiB of
 * resident memory, which a hub that already has its certificate never needs.
 */
async function loadX509(): Promise<typeof import("@peculiar/x509")> {
  await import("reflect-metadata");
  const x509 = await import("@peculiar/x509");
  x509.cryptoProvider.set(crypto);
  return x509;
}

/** A PEM certificate and its PEM private key. */
export interface PemPair {
  readonly cert: string;
  readonly key: string;
}

/** Generates a new self-signed ECDSA P-256 certificate for local development. */
export async function generateDevCertificate(commonName = "smart-home-hub dev"): Promise<PemPair> {
  const x509 = await loadX509();
  const algorithm = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" };
  const keys = await crypto.subtle.generateKey(algorithm, true, ["sign", "verify"]);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: Array.from(
      crypto.getRandomValues(new Uint8Array(16)),
      (b) => b.toString(16).padStart(2, "0"),
    )
      .join("").replace(/^[89a-f]/, "1"),
    name: `CN=${commonName}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 365 * 86_400_000),
    keys,
    signingAlgorithm: algorithm,
    extensions: [
      // Not a CA: rustls (Deno's TLS) refuses a CA certificate as the server's own
      // (CaUsedAsEndEntity), while a self-signed leaf works as its own trust anchor.
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension([
        { type: "dns", value: "localhost" },
        { type: "ip", value: "127.0.0.1" },
        { type: "ip", value: "::1" },
      ]),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const pkcs8 = await crypto.subtle.exportKey("pkcs8", keys.privateKey);
  return { cert: cert.toString("pem") + "\n", key: toPem(pkcs8, "PRIVATE KEY") };
}

/** Writes a new dev certificate to `certPath`/`keyPath` (key readable by the owner only). */
export async function writeDevCertificate(certPath: string, keyPath: string): Promise<void> {
  const pair = await generateDevCertificate();
  Deno.mkdirSync(dirname(certPath), { recursive: true });
  Deno.mkdirSync(dirname(keyPath), { recursive: true });
  Deno.writeTextFileSync(keyPath, pair.key, { mode: 0o600 });
  Deno.writeTextFileSync(certPath, pair.cert);
}

/** True when both files exist. */
export function certificateExists(certPath: string, keyPath: string): boolean {
  try {
    Deno.statSync(certPath);
    Deno.statSync(keyPath);
    return true;
  } catch {
    return false;
  }
}

function toPem(der: ArrayBuffer, label: string): string {
  const base64 = btoa(String.fromCharCode(...new Uint8Array(der)));
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}
