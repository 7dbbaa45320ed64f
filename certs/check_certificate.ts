/**
 * Checks the configured certificate and key before any listener uses them,
 * so that a wrong file gives one line naming `SSL_CERT` or `SSL_KEY` and
 * what to change, instead of a TLS library error at the first listener.
 *
 * @module
 */
import { createPrivateKey, X509Certificate } from "node:crypto";

/**
 * Why the PEM certificate and key cannot serve TLS together, or undefined when they can.
 *
 * @param cert the certificate file's text (`SSL_CERT`)
 * @param key the private key file's text (`SSL_KEY`)
 * @param names the files as configured, for the message
 */
export function certificateProblem(
  cert: string,
  key: string,
  names: { readonly cert: string; readonly key: string },
): string | undefined {
  if (!cert.includes("-----BEGIN CERTIFICATE-----")) {
    return `SSL_CERT=${names.cert} is not a PEM certificate (a text file that starts with ` +
      `-----BEGIN CERTIFICATE-----): convert it (openssl x509 -in FILE -out FILE.pem) or ` +
      `remove SSL_CERT and SSL_KEY to use a generated development certificate`;
  }
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(cert);
  } catch {
    return `SSL_CERT=${names.cert} holds a PEM block that is not a valid certificate: ` +
      `point SSL_CERT at the certificate file`;
  }
  let privateKey: ReturnType<typeof createPrivateKey>;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    return `SSL_KEY=${names.key} is not a PEM private key (unencrypted, -----BEGIN PRIVATE KEY----- ` +
      `or -----BEGIN EC/RSA PRIVATE KEY-----): point SSL_KEY at the certificate's key`;
  }
  if (!certificate.checkPrivateKey(privateKey)) {
    return `SSL_CERT=${names.cert} and SSL_KEY=${names.key} do not belong together (the key is ` +
      `not the certificate's): set SSL_KEY to the key the certificate was made for`;
  }
  if (new Date(certificate.validTo).getTime() < Date.now()) {
    return `SSL_CERT=${names.cert} expired on ${certificate.validTo}: renew it, or delete both ` +
      `files to have a development certificate generated`;
  }
  return undefined;
}
