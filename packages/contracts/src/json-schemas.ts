// The contracts as plain JSON Schema documents (for producers in other languages and for review), by file name.
import type { TSchema } from '@sinclair/typebox';
import { DeadLetter } from './dead-letter.js';
import { queries, QueryResponse } from './queries.js';
import {
  RemediationReply,
  RemediationRequest,
  RestoreReply,
  RestoreRequest,
  SnapshotReply,
  SnapshotRequest,
  TargetStatusReply,
  TargetStatusRequest,
} from './queries/remediation.js';
import { eventSchema, eventSubjects } from './subjects.js';

const DIALECT = 'http://json-schema.org/draft-07/schema#';

function document(schema: TSchema, id: string, title: string, description?: string): object {
  // JSON.stringify drops TypeBox's symbol keys, leaving standard JSON Schema.
  const plain = JSON.parse(JSON.stringify(schema)) as Record<string, unknown>;
  return {
    $schema: DIALECT,
    ...plain,
    $id: `https://grace.dev/schemas/${id}.json`,
    title,
    ...(description ? { description } : {}),
  };
}

/** Every contract as `relative/path.json` -> JSON Schema document. */
export function jsonSchemaDocuments(): Record<string, object> {
  const out: Record<string, object> = {};
  for (const subject of eventSubjects) {
    out[`events/${subject}.json`] = document(eventSchema(subject), `events/${subject}`, subject);
  }
  for (const [subject, def] of Object.entries(queries)) {
    out[`queries/${subject}.request.json`] = document(
      def.request,
      `queries/${subject}.request`,
      `${subject} request`,
      def.description,
    );
    out[`queries/${subject}.reply.json`] = document(
      def.reply,
      `queries/${subject}.reply`,
      `${subject} reply`,
      def.description,
    );
  }
  out['queries/response.json'] = document(QueryResponse, 'queries/response', 'query response envelope');
  out['dead-letter.json'] = document(DeadLetter, 'dead-letter', 'dead letter on dlq.<subject>');
  const remediation: Record<string, TSchema> = {
    'action.request': RemediationRequest,
    'action.reply': RemediationReply,
    'snapshot.request': SnapshotRequest,
    'snapshot.reply': SnapshotReply,
    'restore.request': RestoreRequest,
    'restore.reply': RestoreReply,
    'status.request': TargetStatusRequest,
    'status.reply': TargetStatusReply,
  };
  for (const [name, schema] of Object.entries(remediation)) {
    out[`remediation/${name}.json`] = document(schema, `remediation/${name}`, `remediation ${name}`);
  }
  return out;
}
