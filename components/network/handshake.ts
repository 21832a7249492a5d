import { Type } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { encodeFrame } from './frame-codec.js';
import { NODE_ID_MAX, type NodeId } from './node-id.js';

/**
 * The first frame on a peer connection: the dialler names the cluster, itself and the node it
 * means to reach. The receiver checks it before reading anything else from that connection.
 */
const PROTOCOL_VERSION = 1;

const helloCheck = TypeCompiler.Compile(
  Type.Object(
    {
      kind: Type.Literal('net.Hello'),
      cluster: Type.String({ maxLength: 256 }),
      src: Type.Integer({ minimum: 0, maximum: NODE_ID_MAX }),
      dst: Type.Integer({ minimum: 0, maximum: NODE_ID_MAX }),
      version: Type.Literal(PROTOCOL_VERSION),
    },
    { additionalProperties: false },
  ),
);

export function helloFrame(cluster: string, src: NodeId, dst: NodeId): Buffer {
  return encodeFrame({ kind: 'net.Hello', cluster, src, dst, version: PROTOCOL_VERSION });
}

/** The two ends a Hello names: the dialler, and the id it means to reach here. */
export interface HelloEnds {
  readonly src: NodeId;
  readonly dst: NodeId;
}

/**
 * The ends a Hello names when `value` is a Hello of `cluster` addressed to this node (`isMe`),
 * else null. With TLS on, the caller also checks `src` against the dialler's certificate.
 */
export function checkHello(
  value: unknown,
  cluster: string,
  isMe: (id: NodeId) => boolean,
): HelloEnds | null {
  if (!helloCheck.Check(value)) return null;
  if (value.cluster !== cluster || !isMe(value.dst as NodeId)) return null;
  return { src: value.src as NodeId, dst: value.dst as NodeId };
}
