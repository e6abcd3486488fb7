// The typed map of every request-reply subject (`<owner>.query.*`, controls) to its request and reply schemas.
import { Type, type Static, type TSchema } from '@sinclair/typebox';

export interface QueryDefinition {
  readonly description: string;
  readonly request: TSchema;
  readonly reply: TSchema;
}

export const queries = {} as const satisfies Record<string, QueryDefinition>;

export type QuerySubject = keyof typeof queries;
export type QueryRequest<Q extends QuerySubject> = Static<(typeof queries)[Q]['request']>;
export type QueryReply<Q extends QuerySubject> = Static<(typeof queries)[Q]['reply']>;

export function isQuerySubject(subject: string): subject is QuerySubject {
  return Object.prototype.hasOwnProperty.call(queries, subject);
}

/** Error codes a responder may answer with; the requester maps them (e.g. to HTTP status). */
export const QueryErrorCode = Type.Union([
  Type.Literal('invalid_request'),
  Type.Literal('not_found'),
  Type.Literal('conflict'),
  Type.Literal('forbidden'),
  Type.Literal('unavailable'),
  Type.Literal('timeout'),
  Type.Literal('internal'),
]);
export type QueryErrorCode = Static<typeof QueryErrorCode>;

/** What travels back on the wire for every request: the reply or a typed error. */
export const QueryResponse = Type.Union([
  Type.Object({ ok: Type.Literal(true), data: Type.Unknown() }, { additionalProperties: false }),
  Type.Object(
    {
      ok: Type.Literal(false),
      error: Type.Object(
        {
          code: QueryErrorCode,
          message: Type.String({ maxLength: 4096 }),
          details: Type.Optional(Type.Array(Type.Object({ path: Type.String(), message: Type.String() }))),
        },
        { additionalProperties: false },
      ),
    },
    { additionalProperties: false },
  ),
]);
export type QueryResponse = Static<typeof QueryResponse>;
