import { Type, type Static, type TObject, type TProperties } from '@sinclair/typebox';
import { TypeCompiler, type TypeCheck } from '@sinclair/typebox/compiler';
import { NODE_ID_MAX } from './node-id.js';
import { boundedReason } from './warn-limiter.js';

/** Message schemas of one protocol module, by kind. Kinds are namespaced: `fd.Heartbeat`. */
export type MessageSchemas = Readonly<Record<string, TObject>>;

/** Declares a module's messages once: the schemas validate input, `PayloadsOf` types them. */
export function defineMessages<S extends MessageSchemas>(schemas: S): S {
  return schemas;
}

export type PayloadsOf<S extends MessageSchemas> = { [K in keyof S]: Static<S[K]> };

const nodeIdSchema = Type.Integer({ minimum: 0, maximum: NODE_ID_MAX });

/**
 * Every message kind the node accepts from the network, each with a compiled validator over
 * the whole message (envelope and payload, no extra fields). Input from a peer is untrusted:
 * anything that is not exactly one of these shapes is rejected with a reason.
 */
export class MessageCatalogue {
  private readonly checks = new Map<string, TypeCheck<TObject>>();

  constructor(...modules: MessageSchemas[]) {
    for (const schemas of modules) {
      for (const [kind, payload] of Object.entries(schemas)) {
        if (this.checks.has(kind)) throw new Error(`message kind ${kind} declared twice`);
        const properties: TProperties = {
          ...payload.properties,
          kind: Type.Literal(kind),
          src: nodeIdSchema,
          dst: nodeIdSchema,
        };
        this.checks.set(
          kind,
          TypeCompiler.Compile(Type.Object(properties, { additionalProperties: false })),
        );
      }
    }
  }

  has(kind: string): boolean {
    return this.checks.has(kind);
  }

  /** Null when `value` is a valid message, else why not. */
  invalid(value: unknown): string | null {
    if (typeof value !== 'object' || value === null) return 'message is not an object';
    const kind = (value as { kind?: unknown }).kind;
    if (typeof kind !== 'string') return 'message has no kind';
    const check = this.checks.get(kind);
    if (check === undefined) return `unknown message kind ${JSON.stringify(kind.slice(0, 64))}`;
    if (check.Check(value)) return null;
    const first = check.Errors(value).First();
    // The path names the sender's own property names (an unexpected property of a megabyte
    // was a megabyte-long warn line): bounded here, where the text is built.
    return boundedReason(
      `bad ${kind}: ${first ? `${first.path || '/'} ${first.message}` : 'invalid'}`,
    );
  }
}
