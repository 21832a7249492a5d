import {
  connect,
  createSecureContext,
  createServer,
  type PeerCertificate,
  type SecureContext,
  type Server,
  type TLSSocket,
} from 'node:tls';
import type { NodeId, PeerAddress } from './node-id.js';
import {
  certificateIds,
  certificateNames,
  describeNames,
  type CertificateNames,
} from './peer-identity.js';

/** Mutual TLS on the peer port: this node's certificate and key, and the cluster's CA. */
export interface PeerTlsInit {
  /** PEM: the cluster CA that signs every node's certificate; the only one trusted. */
  readonly ca: string | Buffer;
  /** PEM: this node's certificate, naming it (`peer-identity.ts`). */
  readonly cert: string | Buffer;
  readonly key: string | Buffer;
  /**
   * Roles a certificate may hold and the id each lets it act as: `{ bootstrap: 65535 }` lets
   * the bootstrap node's certificate answer for the bootstrap alias.
   */
  readonly roles?: Readonly<Record<string, NodeId>>;
}

const MIN_VERSION = 'TLSv1.3';

/**
 * TLS for one TcpNetwork. Both ends present a certificate of the cluster CA; the ids a
 * certificate names (`peer-identity.ts`) are what the other end may claim: the receiver checks
 * the Hello's src against the dialler's certificate, the dialler checks that the receiver's
 * certificate names the id it dialled, so each end knows who is at the other.
 */
export class PeerTls {
  private readonly context: SecureContext;
  private readonly roles: Readonly<Record<string, NodeId>>;

  constructor(
    private readonly init: PeerTlsInit,
    private readonly clusterId: string,
  ) {
    this.context = createSecureContext({
      ca: init.ca,
      cert: init.cert,
      key: init.key,
      minVersion: MIN_VERSION,
    });
    this.roles = init.roles ?? {};
  }

  /** The names a peer's certificate carries in this cluster. */
  namesOf(cert: PeerCertificate | null | undefined): CertificateNames {
    return certificateNames(cert?.subjectaltname, this.clusterId);
  }

  /** Every id a peer's certificate lets it act as. */
  idsOf(cert: PeerCertificate | null | undefined): Set<NodeId> {
    return certificateIds(this.namesOf(cert), this.roles);
  }

  describe(cert: PeerCertificate | null | undefined): string {
    return describeNames(this.namesOf(cert), this.clusterId);
  }

  /**
   * A server that completes TLS only with clients whose certificate the CA signed. It does not
   * listen: the network accepts TCP itself (to cap and time handshakes) and hands each socket
   * over with `emit('connection', socket)`.
   */
  createServer(handshakeTimeoutMs: number): Server {
    return createServer({
      ca: this.init.ca,
      cert: this.init.cert,
      key: this.init.key,
      minVersion: MIN_VERSION,
      requestCert: true,
      rejectUnauthorized: true,
      handshakeTimeout: handshakeTimeoutMs,
    });
  }

  /** Dials `peer`, accepting only a server whose certificate names it. */
  connect(address: PeerAddress, peer: NodeId): TLSSocket {
    const socket = connect({
      host: address.host,
      port: address.port,
      secureContext: this.context,
      checkServerIdentity: (_host, cert) =>
        this.idsOf(cert).has(peer)
          ? undefined
          : new Error(
              `the certificate at ${address.host}:${address.port} names ${this.describe(cert)}, not node ${peer}`,
            ),
    });
    socket.setNoDelay(true);
    return socket;
  }
}
