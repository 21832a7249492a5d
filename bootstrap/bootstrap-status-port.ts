import { portType } from '../components/kernel/index.js';

/**
 * What a bootstrap component (the client every node runs, or the bootstrap node's server)
 * tells its host: the peer input it rejected so far, by reason (kv/peer-rejections.ts), reported
 * each time it rejects one. The host turns the counts into a Prometheus counter.
 */
export interface BootstrapStatus {
  readonly kind: 'BootstrapStatus';
  readonly role: 'client' | 'server';
  readonly rejected: Readonly<Record<string, number>>;
  /**
   * Client: the cluster formed without this node (the bootstrap node's table does not list
   * it); it has stopped checking in, and its host should give up.
   */
  readonly excluded?: boolean;
}

export const BootstrapStatusPort = portType<never, BootstrapStatus>('BootstrapStatus');
