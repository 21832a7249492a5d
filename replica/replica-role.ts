import type { MessageOf } from '../components/network/network-port.js';
import type { NodeId } from '../components/network/node-id.js';
import type { RequestTarget } from './client-requests.js';
import type { Vote } from './election.js';
import type { FollowerSession } from './follower.js';
import type { LeaderRole } from './leader.js';
import { FOLLOWING, LEADING } from './zab-messages.js';

/**
 * What a replica is doing. `starting` is before its first Load, and again while it reloads
 * after a failed write (then it has a state to serve stale reads from).
 */
export type Role =
  | { readonly name: 'starting' }
  | { readonly name: 'looking' }
  | { readonly name: 'following'; readonly session: FollowerSession; readonly vote: Vote }
  | { readonly name: 'leading'; readonly leader: LeaderRole; readonly vote: Vote };

/** The role object that takes the role's events, while there is one. */
export function activeRole(role: Role): LeaderRole | FollowerSession | null {
  if (role.name === 'leading') return role.leader;
  return role.name === 'following' ? role.session : null;
}

/** The leader this replica follows or is, when it knows one. */
export function leaderOf(role: Role, self: NodeId): NodeId | null {
  if (role.name === 'leading') return self;
  return role.name === 'following' ? role.session.leader : null;
}

/** True for an established leader or a follower that has synced with one. */
export function isServing(role: Role): boolean {
  if (role.name === 'leading') return role.leader.established;
  return role.name === 'following' && role.session.serving;
}

/** Where a client request goes in this role (client-requests.ts). */
export function requestTargetOf(role: Role, loaded: boolean): RequestTarget {
  if (role.name === 'leading') return { kind: 'leader', leader: role.leader };
  if (role.name === 'following') return { kind: 'follower', session: role.session };
  return role.name === 'starting' && !loaded ? { kind: 'starting' } : { kind: 'looking' };
}

/** An established role's vote, which late joiners of an election are told. */
export function settledVote(
  role: Role,
): { vote: Vote; state: typeof FOLLOWING | typeof LEADING } | null {
  if (role.name === 'leading') return { vote: role.vote, state: LEADING };
  return role.name === 'following' ? { vote: role.vote, state: FOLLOWING } : null;
}

/** A peer's connection closed: the sessions over it end at once, as on a socket EOF in ZooKeeper. */
export function onLinkDown(role: Role, peer: NodeId): void {
  if (role.name === 'following' && role.session.leader === peer) role.session.onClose();
  else if (role.name === 'leading') role.leader.onLinkDown(peer);
}

/** A peer ended a session (zab.Close): the role that holds it ends it too. */
export function onSessionClose(role: Role, message: MessageOf<'zab.Close'>): void {
  if (role.name === 'leading') role.leader.onClose(message);
  else if (
    role.name === 'following' &&
    role.session.session === message.session &&
    message.src === role.session.leader
  ) {
    role.session.onClose();
  }
}
