import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** Paths of PEM files made for one test run (EC P-256, valid two days). */
export interface TestPki {
  readonly dir: string;
  /** The cluster's CA, and a server certificate it signed for 127.0.0.1 and localhost. */
  readonly ca: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** A client certificate signed by the same CA. */
  readonly clientCert: string;
  readonly clientKey: string;
  /** Another CA, and a client certificate it signed: not trusted by the nodes. */
  readonly otherCa: string;
  readonly otherClientCert: string;
  readonly otherClientKey: string;
}

/**
 * A CA with a server and a client certificate, and a second CA with a client certificate,
 * made with the openssl command line (it is on every machine this project runs on). EC keys
 * take milliseconds, so each test run makes its own instead of keeping keys in the repository.
 */
export function makeTestPki(dir: string): TestPki {
  mkdirSync(dir, { recursive: true });
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const ecKey = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const makeCa = (name: string) => {
    openssl(
      'req',
      '-x509',
      ...ecKey,
      '-keyout',
      `${name}-key.pem`,
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-subj',
      `/CN=${name}`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    );
  };
  const makeLeaf = (name: string, ca: string, extensions: string) => {
    openssl(
      'req',
      '-new',
      ...ecKey,
      '-keyout',
      `${name}-key.pem`,
      '-out',
      `${name}.csr`,
      '-subj',
      `/CN=${name}`,
    );
    writeFileSync(join(dir, `${name}.ext`), extensions);
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${ca}.pem`,
      '-CAkey',
      `${ca}-key.pem`,
      '-CAcreateserial',
      '-out',
      `${name}.pem`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    );
    chmodSync(join(dir, `${name}-key.pem`), 0o600);
  };
  makeCa('ca');
  makeCa('other-ca');
  makeLeaf(
    'server',
    'ca',
    'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n',
  );
  makeLeaf('client', 'ca', 'extendedKeyUsage=clientAuth\n');
  makeLeaf('other-client', 'other-ca', 'extendedKeyUsage=clientAuth\n');
  const path = (name: string) => join(dir, name);
  return {
    dir,
    ca: path('ca.pem'),
    serverCert: path('server.pem'),
    serverKey: path('server-key.pem'),
    clientCert: path('client.pem'),
    clientKey: path('client-key.pem'),
    otherCa: path('other-ca.pem'),
    otherClientCert: path('other-client.pem'),
    otherClientKey: path('other-client-key.pem'),
  };
}
