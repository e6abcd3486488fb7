// chat-gateway as a service definition: the REST API and the console on the side server's port, the live stream
// on the same port, chat with its conversations, and the token verifier.
import { ConfigError, type ServiceDefinition } from '@grace/service-kit';
import type { Algorithm } from 'jsonwebtoken';
import { userActions } from './actions.js';
import { createApi } from './api/app.js';
import { createLlm } from './chat/llm.js';
import { config } from './config.js';
import { conversations } from './conversations.js';
import { verifyToken, type VerifierOptions } from './domain/auth.js';
import { jwksKeys } from './domain/jwks.js';
import { migrations } from './migrations/index.js';
import { rememberUser, type Database } from './store.js';
import { startStream } from './stream.js';

/** HS256 with a shared secret, or RS256/ES256 with a public key or a JWKS endpoint: exactly one of them. */
function verifierOptions(c: {
  JWT_SECRET?: string;
  JWT_PUBLIC_KEY?: string;
  JWT_JWKS_URL?: string;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  JWT_MAX_AGE_S: number;
  JWT_CLOCK_TOLERANCE_S: number;
}): VerifierOptions {
  const given = [c.JWT_SECRET, c.JWT_PUBLIC_KEY, c.JWT_JWKS_URL].filter(Boolean).length;
  if (given !== 1)
    throw new ConfigError('chat-gateway', [
      'set exactly one of JWT_SECRET (HS256), JWT_PUBLIC_KEY (RS256/ES256, PEM) or JWT_JWKS_URL',
    ]);
  const common = {
    issuer: c.JWT_ISSUER,
    audience: c.JWT_AUDIENCE,
    maxAgeSeconds: c.JWT_MAX_AGE_S,
    clockToleranceSeconds: c.JWT_CLOCK_TOLERANCE_S,
  };
  if (c.JWT_SECRET) return { ...common, key: c.JWT_SECRET, algorithms: ['HS256'] };
  const algorithms: Algorithm[] = ['RS256', 'ES256'];
  if (c.JWT_PUBLIC_KEY) return { ...common, key: c.JWT_PUBLIC_KEY, algorithms };
  return { ...common, algorithms, key: jwksKeys(c.JWT_JWKS_URL!) };
}

export const chatGateway: ServiceDefinition<Database, typeof config> = {
  name: 'chat-gateway',
  defaultHttpPort: 8080,
  config,
  migrations,
  setup(runtime) {
    const { config: c, log, db } = runtime;
    const options = verifierOptions(c);
    const verify = (token: string) => verifyToken(token, options);
    const remember = (principal: { id: string; name?: string; roles: string[] }) =>
      void rememberUser(db, principal).catch((err: Error) =>
        log.warn({ err: err.message }, 'remembering a user failed'),
      );
    const actions = userActions(runtime);
    const llm = c.LLM_URL
      ? createLlm({
          url: c.LLM_URL,
          model: c.LLM_MODEL,
          timeoutMs: c.CHAT_BUDGET_MS,
          ...(c.LLM_API_KEY ? { apiKey: c.LLM_API_KEY } : {}),
        })
      : undefined;
    const talk = conversations(db, actions.chatTools, { budgetMs: c.CHAT_BUDGET_MS, ...(llm ? { llm } : {}) });
    const corsOrigins = c.CORS_ORIGINS.split(',')
      .map((o) => o.trim())
      .filter(Boolean);
    const stream = startStream({
      nc: runtime.nc,
      naming: runtime.naming,
      log,
      verify,
      chat: talk.chat,
      allowedOrigins: corsOrigins,
      maxPayload: c.WS_MAX_PAYLOAD,
      chatPerTenSeconds: c.WS_MESSAGES_PER_10S,
    });
    const api = createApi({
      log,
      verify,
      remember,
      request: actions.request,
      chat: talk.chat,
      conversation: talk.conversation,
      vote: actions.vote,
      runPlaybook: actions.runPlaybook,
      deadLetters: actions.deadLetters,
      replayDeadLetter: actions.replayDeadLetter,
      consoleDir: c.CONSOLE_DIR,
      corsOrigins,
      timeoutMs: c.API_TIMEOUT_MS,
      rateLimits: { perUserPerMinute: c.RATE_LIMIT_USER_PER_MINUTE, perIpPerMinute: c.RATE_LIMIT_IP_PER_MINUTE },
    });
    if (!llm) log.info('no LLM_URL: chat answers with the deterministic intent engine only');
    return { routes: api, upgrade: stream.upgrade, stop: () => stream.stop() };
  },
};
