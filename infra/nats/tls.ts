// TLS for every NATS link that crosses a network. Head office keeps a private CA; provisioning
// issues the hub's certificate and each store's (its broker's certificate on the shop LAN, and its
// leaf login at the hub, named by a URI in the certificate). Keys are ECDSA P-256, made and signed
// with the openssl command (node:crypto cannot write certificates); clients verify with the CA.
import { execFileSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { randomBytes, X509Certificate } from 'node:crypto';
import type { ConnectionOptions } from '@nats-io/transport-node';

export interface CertificateFiles {
  /** PEM certificate (public). */
  cert: string;
  /** PEM private key (mode 0600). */
  key: string;
}

export interface CertificateSubject {
  commonName: string;
  /** DNS names and IP addresses the certificate is valid for as a server. */
  hosts: string[];
  /** URIs it carries, e.g. a store's leaf identity. */
  uris?: string[];
  /** Also valid as a client certificate (a store broker's leaf login, a hub node routing to the others). */
  clientAuth?: boolean;
}

const CA_DAYS = 3650;
const CERT_DAYS = 825;

function opensslBinary(): string {
  return process.env.OPENSSL_BIN ?? 'openssl';
}

function openssl(args: string[]): void {
  try {
    execFileSync(opensslBinary(), args, { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (failure.code === 'ENOENT') throw new Error(`cannot run ${opensslBinary()}: install the Debian package openssl ("make deps")`);
    throw new Error(`openssl ${args[0]} failed: ${failure.stderr?.toString().trim() || failure.message}`);
  }
}

const EC_KEY = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];

function prepare(files: CertificateFiles): void {
  mkdirSync(dirname(files.cert), { recursive: true });
  mkdirSync(dirname(files.key), { recursive: true });
}

/** Head office's private CA, made on first use; returns whether it was made now. */
export function ensureCertificateAuthority(files: CertificateFiles, name = 'cardsys private CA'): { created: boolean } {
  if (existsSync(files.cert) && existsSync(files.key)) return { created: false };
  prepare(files);
  openssl([
    'req',
    '-x509',
    ...EC_KEY,
    '-keyout',
    files.key,
    '-out',
    files.cert,
    '-days',
    String(CA_DAYS),
    '-subj',
    `/O=cardsys/CN=${name}`,
    '-addext',
    'basicConstraints=critical,CA:TRUE',
    '-addext',
    'keyUsage=critical,keyCertSign,cRLSign',
  ]);
  chmodSync(files.key, 0o600);
  return { created: true };
}

const altNames = (subject: CertificateSubject) => [
  ...subject.hosts.map((host) => (isIP(host) ? `IP:${host}` : `DNS:${host}`)),
  ...(subject.uris ?? []).map((uri) => `URI:${uri}`),
];

/** Issues a certificate signed by the CA into `out` (key 0600), replacing what was there. */
export function issueCertificate(ca: CertificateFiles, out: CertificateFiles, subject: CertificateSubject): void {
  if (!/^[A-Za-z0-9 ._:-]{1,64}$/.test(subject.commonName))
    throw new Error(`certificate common name "${subject.commonName}" has characters a certificate subject cannot carry here`);
  const names = altNames(subject);
  if (names.length === 0) throw new Error(`certificate ${subject.commonName}: give at least one host or URI`);
  prepare(out);
  const work = mkdtempSync(join(tmpdir(), 'cardsys-cert-'));
  try {
    const request = join(work, 'request.csr');
    const extensions = join(work, 'extensions.cnf');
    writeFileSync(
      extensions,
      [
        'basicConstraints=critical,CA:FALSE',
        'keyUsage=critical,digitalSignature',
        `extendedKeyUsage=${subject.clientAuth ? 'serverAuth,clientAuth' : 'serverAuth'}`,
        `subjectAltName=${names.join(',')}`,
        '',
      ].join('\n'),
    );
    openssl(['req', '-new', ...EC_KEY, '-keyout', out.key, '-out', request, '-subj', `/O=cardsys/CN=${subject.commonName}`]);
    chmodSync(out.key, 0o600);
    const serial = `0x${(randomBytes(16)[0]! & 0x7f).toString(16).padStart(2, '0')}${randomBytes(15).toString('hex')}`;
    openssl([
      'x509',
      '-req',
      '-in',
      request,
      '-CA',
      ca.cert,
      '-CAkey',
      ca.key,
      '-set_serial',
      serial,
      '-days',
      String(CERT_DAYS),
      '-extfile',
      extensions,
      '-out',
      out.cert,
    ]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Extended key usage: TLS client authentication. */
const CLIENT_AUTH_OID = '1.3.6.1.5.5.7.3.2';

/** Whether the certificate exists, was signed by the CA, names every host and URI asked for, and may log in as a client where asked. */
function certificateCovers(ca: CertificateFiles, certFile: string, subject: CertificateSubject): boolean {
  if (!existsSync(certFile)) return false;
  const cert = new X509Certificate(readFileSync(certFile));
  if (!cert.checkIssued(new X509Certificate(readFileSync(ca.cert)))) return false;
  const uris = new Set(
    (cert.subjectAltName ?? '')
      .split(', ')
      .filter((name) => name.startsWith('URI:'))
      .map((name) => name.slice('URI:'.length)),
  );
  const covers = (host: string) => (isIP(host) ? cert.checkIP(host) : cert.checkHost(host, { wildcards: false })) !== undefined;
  return (
    subject.hosts.every(covers) &&
    (subject.uris ?? []).every((uri) => uris.has(uri)) &&
    (!subject.clientAuth || (cert.keyUsage ?? []).includes(CLIENT_AUTH_OID)) &&
    new Date(cert.validTo).getTime() > Date.now() + 30 * 86_400_000
  );
}

/** Issues the certificate unless one that covers the subject is already there; returns whether it issued one. */
export function ensureCertificate(ca: CertificateFiles, out: CertificateFiles, subject: CertificateSubject): { created: boolean } {
  if (existsSync(out.key) && certificateCovers(ca, out.cert, subject)) return { created: false };
  issueCertificate(ca, out, subject);
  return { created: true };
}

/** Hosts a certificate is made for when nobody names them: this machine, by name and loopback address. */
export const LOCAL_HOSTS = ['localhost', '127.0.0.1', '::1'];

/** Connection options that make a client verify the server's certificate against the private CA. */
export function natsTlsOptions(caFile: string | undefined): Pick<ConnectionOptions, 'tls'> {
  if (caFile === undefined) return {};
  if (!existsSync(caFile)) throw new Error(`TLS CA certificate ${caFile} does not exist`);
  return { tls: { caFile } };
}
