// The OpenAPI 3.1 document of the API (served at /api/v1/openapi.json), built from the same contract schemas the
// routes validate with, so it cannot drift from them.
import { gateway, queries, schemas, type QuerySubject } from '@grace/contracts';
import type { TSchema } from '@sinclair/typebox';

interface Operation {
  method: 'get' | 'post';
  path: string;
  summary: string;
  roles: string;
  body?: TSchema;
  query?: TSchema;
  reply: TSchema;
  status?: number;
}

const reply = (subject: QuerySubject) => queries[subject].reply;
const READ = 'viewer, operator, approver, admin';

const OPERATIONS: Operation[] = [
  { method: 'get', path: '/me', summary: 'Who the token says you are', roles: READ, reply: gateway.Me },
  {
    method: 'post',
    path: '/chat',
    summary: 'Ask Grace (status, incidents, why, approve, run a playbook, mute, cube questions)',
    roles: 'operator, admin',
    body: gateway.ChatRequest,
    reply: gateway.ChatReply,
  },
  {
    method: 'get',
    path: '/conversations/{id}',
    summary: 'One of your conversations',
    roles: 'operator, admin',
    reply: gateway.Conversation,
  },
  {
    method: 'get',
    path: '/incidents',
    summary: 'Incidents, filtered and paged (status as a comma list)',
    roles: READ,
    query: schemas.IncidentsRequest,
    reply: reply('sentinel.query.incidents'),
  },
  {
    method: 'get',
    path: '/incidents/{id}',
    summary: 'One incident with its timeline and decision trail',
    roles: READ,
    reply: reply('sentinel.query.incident'),
  },
  {
    method: 'get',
    path: '/contracts/{id}',
    summary: 'An action contract (by contract or action id) with snapshot, approval, audit and its verification',
    roles: READ,
    reply: reply('executor.query.contract'),
  },
  {
    method: 'get',
    path: '/approvals',
    summary: 'Pending approvals',
    roles: READ,
    query: schemas.ApprovalsRequest,
    reply: reply('executor.query.approvals'),
  },
  {
    method: 'post',
    path: '/approvals/{id}/votes',
    summary: 'Vote on an approval; the executor decides whether it counts',
    roles: 'approver, admin',
    body: gateway.VoteRequest,
    reply: gateway.VoteAccepted,
    status: 202,
  },
  {
    method: 'get',
    path: '/playbooks',
    summary: 'The playbook catalog with statistics',
    roles: READ,
    query: schemas.PlaybooksRequest,
    reply: reply('sentinel.query.playbooks'),
  },
  {
    method: 'post',
    path: '/actions',
    summary: 'Run a playbook on a service outside any incident (the executor policy applies)',
    roles: 'operator, admin',
    body: schemas.PlanRequest,
    reply: schemas.PlanReply,
    status: 202,
  },
  {
    method: 'post',
    path: '/mutes',
    summary: 'Mute a fingerprint or a signature until a time',
    roles: 'operator, admin',
    body: schemas.MuteRequest,
    reply: reply('sentinel.control.mute'),
  },
  ...(['success_rate', 'mttr', 'error_trends', 'rollback_drift'] as const).map((name): Operation => ({
    method: 'get',
    path: `/cube/${name}`,
    summary: `Cube query ${name}`,
    roles: READ,
    query: queries[`cube.query.${name}`].request,
    reply: reply(`cube.query.${name}`),
  })),
  {
    method: 'get',
    path: '/executor',
    summary: 'The pause switch and what the executor holds',
    roles: READ,
    reply: reply('executor.control.status'),
  },
  {
    method: 'post',
    path: '/executor/pause',
    summary: 'Hold every new action',
    roles: 'admin',
    body: gateway.PauseBody,
    reply: reply('executor.control.pause'),
  },
  {
    method: 'post',
    path: '/executor/resume',
    summary: 'Release held actions',
    roles: 'admin',
    body: gateway.ResumeBody,
    reply: reply('executor.control.resume'),
  },
  {
    method: 'get',
    path: '/dlq',
    summary: 'Dead letters, newest first',
    roles: 'admin',
    reply: gateway.DeadLetterList,
  },
  {
    method: 'post',
    path: '/dlq/{seq}/replay',
    summary: 'Publish a dead-lettered event again on its subject',
    roles: 'admin',
    reply: gateway.DeadLetterReplayed,
    status: 202,
  },
];

const plain = (schema: TSchema) => JSON.parse(JSON.stringify(schema)) as object;

export function openApiDocument() {
  const paths: Record<string, Record<string, unknown>> = {};
  for (const op of OPERATIONS) {
    const parameters = [
      ...[...op.path.matchAll(/\{(\w+)\}/g)].map((m) => ({
        name: m[1],
        in: 'path',
        required: true,
        schema: { type: 'string' },
      })),
      ...Object.entries((op.query?.properties ?? {}) as Record<string, TSchema>).map(([name, schema]) => ({
        name,
        in: 'query',
        required: (op.query?.required as string[] | undefined)?.includes(name) ?? false,
        schema: plain(schema),
      })),
    ];
    (paths[op.path] ??= {})[op.method] = {
      summary: op.summary,
      description: `Roles: ${op.roles}.`,
      security: [{ bearer: [] }],
      ...(parameters.length ? { parameters } : {}),
      ...(op.body
        ? { requestBody: { required: true, content: { 'application/json': { schema: plain(op.body) } } } }
        : {}),
      responses: {
        [String(op.status ?? 200)]: { description: 'OK', content: { 'application/json': { schema: plain(op.reply) } } },
        '4XX': {
          description: 'refused, with the reason',
          content: { 'application/json': { schema: plain(gateway.ApiError) } },
        },
      },
    };
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Grace gateway API',
      version: '1.0.0',
      description:
        'Operators watch Grace, chat with it and approve its risky actions. JWT bearer tokens; roles viewer, operator, approver, admin. Live events and chat over the WebSocket /api/v1/stream (subprotocols grace.v1 and bearer.<token>).',
    },
    servers: [{ url: '/api/v1' }],
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' } } },
    paths,
  };
}
