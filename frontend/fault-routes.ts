import { Type, type Static } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';
import type { FastifyInstance, FastifyReply } from 'fastify';
import { NODE_ID_MAX, type NodeId } from '../components/network/node-id.js';
import type { PeerFaults } from '../components/network/peer-faults.js';

const NodeIds = Type.Array(Type.Integer({ minimum: 0, maximum: NODE_ID_MAX }), { maxItems: 1024 });

/** `PUT /admin/faults`: the whole rule set (what is not named is healed). */
const FaultRulesBody = Type.Object(
  { dropTo: Type.Optional(NodeIds), dropFrom: Type.Optional(NodeIds) },
  { additionalProperties: false },
);
const checkRules = TypeCompiler.Compile(FaultRulesBody);

/**
 * The fault-injection endpoint (README, "Fault injection"), registered only on a node started
 * with `--fault-injection`: elsewhere `/admin/faults` is 404 like any unknown path.
 * `GET` shows the rules and the count dropped, `PUT` replaces them, `DELETE` heals every link.
 */
export function registerFaultRoutes(
  app: FastifyInstance,
  faults: PeerFaults,
  badRequest: (reply: FastifyReply, detail: string) => FastifyReply,
): void {
  const show = (reply: FastifyReply) => reply.send({ ...faults.rules(), dropped: faults.dropped });
  app.get('/admin/faults', (_request, reply) => show(reply));
  app.delete('/admin/faults', (_request, reply) => {
    faults.set({ dropTo: [], dropFrom: [] });
    return show(reply);
  });
  app.put('/admin/faults', (request, reply) => {
    let body: unknown;
    try {
      body = JSON.parse(Buffer.isBuffer(request.body) ? request.body.toString('utf8') : '');
    } catch {
      return badRequest(reply, 'the body must be JSON: {"dropTo": [ids], "dropFrom": [ids]}');
    }
    if (!checkRules.Check(body)) {
      const error = checkRules.Errors(body).First();
      return badRequest(reply, `${error?.path || 'body'}: ${error?.message ?? 'invalid'}`);
    }
    const rules = body as Static<typeof FaultRulesBody>;
    faults.set({
      dropTo: (rules.dropTo ?? []) as NodeId[],
      dropFrom: (rules.dropFrom ?? []) as NodeId[],
    });
    return show(reply);
  });
}
