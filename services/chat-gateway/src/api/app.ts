// The REST API under /api/v1 (express): every route authenticated and guarded by role, every body and query
// validated against the contracts, every request bounded in time, and the console served at `/`.
import { gateway, schemas, validate, type QueryReply, type QueryRequest, type QuerySubject } from '@grace/contracts';
import {
  HttpError,
  httpErrorOf,
  jsonErrorHandler,
  RequestFailedError,
  sendHttpError,
  type Logger,
} from '@grace/service-kit';
import express, { type NextFunction, type Request, type Response } from 'express';
import { ipKeyGenerator, rateLimit } from 'express-rate-limit';
import helmet from 'helmet';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Principal } from '../domain/auth.js';
import {
  ADMINS,
  allow,
  APPROVERS,
  authenticate,
  check,
  checkText,
  databaseUnavailable,
  fromRequestFailure,
  OPERATORS,
  principalOf,
  queryObject,
  READERS,
  requireUtf8,
} from './http.js';
import { openApiDocument } from './openapi.js';

export interface ApiDeps {
  log: Logger;
  verify: (token: string) => Promise<Principal>;
  remember: (principal: Principal) => void;
  request: <Q extends QuerySubject>(subject: Q, body: QueryRequest<Q>) => Promise<QueryReply<Q>>;
  chat: (principal: Principal, message: string, conversationId?: string) => Promise<gateway.ChatReply>;
  conversation: (principal: Principal, conversationId: string) => Promise<unknown | undefined>;
  vote: (principal: Principal, approvalId: string, vote: gateway.VoteRequest) => Promise<{ vote_id: string }>;
  runPlaybook: (principal: Principal, playbook: string, service: string, environment: string) => Promise<string>;
  deadLetters: (limit: number, subject?: string) => Promise<{ seq: number; subject: string; letter: object }[]>;
  replayDeadLetter: (seq: number) => Promise<{ subject: string; event_id: string }>;
  consoleDir: string;
  corsOrigins: string[];
  timeoutMs: number;
  rateLimits: { perUserPerMinute: number; perIpPerMinute: number };
}

type Handler = (req: Request, res: Response) => Promise<unknown>;
const CUBE_QUERIES = ['success_rate', 'mttr', 'error_trends', 'rollback_drift'] as const;
const Uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function createApi(deps: ApiDeps): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', 'loopback');
  app.use(
    helmet({
      contentSecurityPolicy: {
        directives: { defaultSrc: ["'self'"], connectSrc: ["'self'", 'ws:', 'wss:'], imgSrc: ["'self'", 'data:'] },
      },
    }),
  );

  // Every request answers within the budget: a clear 504, never a hanging socket.
  app.use((_req, res, next) => {
    const timer = setTimeout(
      () =>
        sendHttpError(
          res,
          new HttpError(504, 'timeout', `no answer within ${deps.timeoutMs} ms; try again in a moment`),
        ),
      deps.timeoutMs,
    );
    res.on('finish', () => clearTimeout(timer));
    res.on('close', () => clearTimeout(timer));
    next();
  });

  app.use('/api', (req, res, next) => {
    const origin = req.headers.origin;
    if (origin && deps.corsOrigins.includes(origin)) {
      res.setHeader('access-control-allow-origin', origin);
      res.setHeader('vary', 'origin');
      res.setHeader('access-control-allow-headers', 'authorization, content-type');
      res.setHeader('access-control-allow-methods', 'GET, POST, OPTIONS');
      res.setHeader('access-control-max-age', '600');
    }
    if (req.method === 'OPTIONS') return void res.status(204).end();
    next();
  });

  const limited = (limit: number, key: (req: Request, res: Response) => string) =>
    rateLimit({
      windowMs: 60_000,
      limit,
      standardHeaders: 'draft-7',
      legacyHeaders: false,
      keyGenerator: key,
      handler: (_req, res) =>
        sendHttpError(res, new HttpError(429, 'rate_limited', `more than ${limit} requests a minute; slow down`)),
    });
  app.use(
    '/api',
    limited(deps.rateLimits.perIpPerMinute, (req) => `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`),
  );
  app.use(
    '/api',
    express.json({ limit: '64kb', strict: true, verify: requireUtf8, type: ['application/json', '+json'] }),
  );

  const api = express.Router();
  const route = (fn: Handler) => async (req: Request, res: Response) => {
    try {
      const body = await fn(req, res);
      if (!res.headersSent) res.json(body);
    } catch (err) {
      if (err instanceof RequestFailedError) throw fromRequestFailure(err);
      throw err;
    }
  };
  api.get('/openapi.json', (_req, res) => void res.json(openApiDocument()));
  api.use(authenticate(deps.verify, deps.remember));
  api.use(limited(deps.rateLimits.perUserPerMinute, (_req, res) => `user:${principalOf(res).id}`));

  api.get(
    '/me',
    allow(READERS),
    route(async (_req, res) => principalOf(res)),
  );

  api.post(
    '/chat',
    allow(OPERATORS),
    route(async (req, res) => {
      const body = check<gateway.ChatRequest>(gateway.ChatRequest, req.body, 'the chat message');
      checkText(body.message, 'the message', { plain: true });
      return deps.chat(principalOf(res), body.message, body.conversation_id);
    }),
  );
  api.get(
    '/conversations/:id',
    allow(OPERATORS),
    route(async (req, res) => {
      const id = String(req.params.id);
      const conversation = Uuid.test(id) ? await deps.conversation(principalOf(res), id) : undefined;
      if (!conversation) throw new HttpError(404, 'not_found', `you have no conversation ${id}`);
      return conversation;
    }),
  );

  api.get(
    '/incidents',
    allow(READERS),
    route(async (req) => {
      const request = check<QueryRequest<'sentinel.query.incidents'>>(
        schemas.IncidentsRequest,
        queryObject(req.query, { open: 'boolean', limit: 'number', status: 'list' }),
        'the query',
      );
      return deps.request('sentinel.query.incidents', request);
    }),
  );
  api.get(
    '/incidents/:id',
    allow(READERS),
    route(async (req) => deps.request('sentinel.query.incident', { incident_id: String(req.params.id).slice(0, 128) })),
  );
  api.get(
    '/contracts/:id',
    allow(READERS),
    route(async (req) => {
      const id = String(req.params.id).slice(0, 128);
      // Contract and action ids are both UUIDs (an action id may also be any id a client chose): try the
      // contract first, then the action.
      const byAction = () => deps.request('executor.query.contract', { action_id: id });
      const contract = Uuid.test(id)
        ? await deps.request('executor.query.contract', { contract_id: id }).catch((err: unknown) => {
            if (err instanceof RequestFailedError && err.code === 'not_found') return byAction();
            throw err;
          })
        : await byAction();
      const verification = await deps
        .request('verifier.query.verification', { contract_id: contract.contract.contract_id })
        .then((reply) => reply.verification)
        .catch((err: unknown) => {
          if (err instanceof RequestFailedError && err.code === 'not_found') return undefined;
          throw err;
        });
      return { contract, ...(verification ? { verification } : {}) };
    }),
  );

  api.get(
    '/approvals',
    allow(READERS),
    route(async (req) =>
      deps.request(
        'executor.query.approvals',
        check(schemas.ApprovalsRequest, queryObject(req.query, { limit: 'number' }), 'the query'),
      ),
    ),
  );
  api.post(
    '/approvals/:id/votes',
    allow(APPROVERS),
    route(async (req, res) => {
      const vote = check<gateway.VoteRequest>(gateway.VoteRequest, req.body, 'the vote');
      if (vote.comment) checkText(vote.comment, 'the comment');
      const approvalId = String(req.params.id).slice(0, 128);
      const accepted = await deps.vote(principalOf(res), approvalId, vote);
      res.status(202);
      return { vote_id: accepted.vote_id, approval_id: approvalId, decision: vote.decision };
    }),
  );

  api.get(
    '/playbooks',
    allow(READERS),
    route(async (req) =>
      deps.request('sentinel.query.playbooks', check(schemas.PlaybooksRequest, queryObject(req.query), 'the query')),
    ),
  );
  api.post(
    '/actions',
    allow(OPERATORS),
    route(async (req, res) => {
      const body = check<{ playbook: string; service: string; environment: string }>(
        schemas.PlanRequest,
        req.body,
        'the action',
      );
      const actionId = await deps.runPlaybook(principalOf(res), body.playbook, body.service, body.environment);
      res.status(202);
      return { action_id: actionId };
    }),
  );
  api.post(
    '/mutes',
    allow(OPERATORS),
    route(async (req, res) => {
      const body = check<Omit<QueryRequest<'sentinel.control.mute'>, 'by'>>(
        schemas.MuteRequest,
        { ...(req.body as object), by: principalOf(res).id },
        'the mute',
      );
      checkText(body.reason, 'the reason');
      return deps.request('sentinel.control.mute', { ...body, by: principalOf(res).id });
    }),
  );

  api.get(
    '/cube/:query',
    allow(READERS),
    route(async (req) => {
      const name = String(req.params.query);
      if (!(CUBE_QUERIES as readonly string[]).includes(name))
        throw new HttpError(404, 'not_found', `no cube query ${name}; there are ${CUBE_QUERIES.join(', ')}`);
      const subject = `cube.query.${name}` as `cube.query.${(typeof CUBE_QUERIES)[number]}`;
      const request = queryObject(req.query, { tier: 'number', top: 'number', worst: 'number' });
      return deps.request(subject, request as never);
    }),
  );

  api.get(
    '/executor',
    allow(READERS),
    route(async () => deps.request('executor.control.status', {})),
  );
  api.post(
    '/executor/pause',
    allow(ADMINS),
    route(async (req, res) => {
      const body = check<{ reason: string }>(gateway.PauseBody, req.body, 'the pause');
      checkText(body.reason, 'the reason');
      return deps.request('executor.control.pause', { by: principalOf(res).id, reason: body.reason });
    }),
  );
  api.post(
    '/executor/resume',
    allow(ADMINS),
    route(async (req, res) => {
      const body = check<{ reason?: string }>(gateway.ResumeBody, req.body ?? {}, 'the resume');
      return deps.request('executor.control.resume', {
        by: principalOf(res).id,
        ...(body.reason ? { reason: checkText(body.reason, 'the reason') } : {}),
      });
    }),
  );

  api.get(
    '/dlq',
    allow(ADMINS),
    route(async (req) => {
      const limit = Math.min(Math.max(Number(req.query.limit ?? 50) || 50, 1), 200);
      const subject = typeof req.query.subject === 'string' ? req.query.subject.slice(0, 256) : undefined;
      return { items: await deps.deadLetters(limit, subject) };
    }),
  );
  api.post(
    '/dlq/:seq/replay',
    allow(ADMINS),
    route(async (req, res) => {
      const seq = Number(req.params.seq);
      if (!Number.isInteger(seq) || seq < 1) throw new HttpError(400, 'invalid_request', 'seq is a positive integer');
      const replayed = await deps.replayDeadLetter(seq);
      res.status(202);
      return replayed;
    }),
  );

  api.use((req, _res, next) => next(new HttpError(404, 'not_found', `no route ${req.method} /api/v1${req.path}`)));
  app.use('/api/v1', api);
  app.use('/api', (req, _res, next) =>
    next(new HttpError(404, 'not_found', `no route ${req.method} ${req.originalUrl}; the API is under /api/v1`)),
  );

  // The console: its files, and index.html for the paths it routes itself.
  if (existsSync(join(deps.consoleDir, 'index.html'))) {
    // Assets have hashed names and keep; index.html is revalidated so a redeploy never points at gone assets.
    app.use(
      express.static(deps.consoleDir, {
        index: 'index.html',
        maxAge: '7d',
        setHeaders: (res, path) => {
          if (path.endsWith('index.html')) res.setHeader('cache-control', 'no-cache');
        },
      }),
    );
    app.get(/^\/(?!api\/).*/, (_req, res) =>
      res.setHeader('cache-control', 'no-cache').sendFile(join(deps.consoleDir, 'index.html')),
    );
  } else {
    app.get('/', (_req, res) =>
      sendHttpError(
        res,
        new HttpError(404, 'console_not_built', 'the console is not built: run pnpm --filter @grace/console build'),
      ),
    );
  }

  // An error the kit would answer 500 that is Postgres not answering in time is worth a retry: 503 with
  // Retry-After. Every error is answered by the kit's handler, in the one error shape.
  app.use((err: unknown, _req: Request, _res: Response, next: NextFunction) => {
    if (err instanceof HttpError || httpErrorOf(err).status < 500 || !databaseUnavailable(err)) return next(err);
    deps.log.warn({ err: (err as Error).message }, 'request failed: the database did not answer');
    next(
      new HttpError(503, 'unavailable', 'the database did not answer in time; try again in a moment', {
        headers: { 'Retry-After': '1' },
      }),
    );
  });
  app.use(jsonErrorHandler(deps.log));
  return app;
}

/** An event is shown live only when it is one of Grace's contracts (defence against a forged subject). */
export const isValidEvent = (subject: string, event: unknown) => validate(subject, event).ok;
