// chat-gateway's own settings (on top of the kit's), all from the environment.
import { Type } from '@sinclair/typebox';
import { fileURLToPath } from 'node:url';

/** The console's build, served at `/`. */
export const DEFAULT_CONSOLE_DIR = fileURLToPath(new URL('../../../packages/console/dist', import.meta.url));

export const config = {
  JWT_SECRET: Type.Optional(
    Type.String({ minLength: 32, description: 'HS256 shared secret (at least 32 characters)' }),
  ),
  JWT_PUBLIC_KEY: Type.Optional(Type.String({ minLength: 1, description: 'PEM public key for RS256 / ES256 tokens' })),
  JWT_JWKS_URL: Type.Optional(Type.String({ pattern: '^https?://', description: 'JWKS endpoint for RS256 / ES256' })),
  JWT_ISSUER: Type.String({ default: 'grace', minLength: 1 }),
  JWT_AUDIENCE: Type.String({ default: 'grace', minLength: 1 }),
  JWT_MAX_AGE_S: Type.Integer({ default: 43_200, minimum: 60, description: 'oldest token accepted (iat), seconds' }),
  JWT_CLOCK_TOLERANCE_S: Type.Integer({ default: 5, minimum: 0, maximum: 300 }),
  CORS_ORIGINS: Type.String({
    default: '',
    description: 'comma-separated origins allowed to call the API and open the stream; empty: same origin only',
  }),
  CONSOLE_DIR: Type.String({ default: DEFAULT_CONSOLE_DIR, description: 'the built console; absent: API only' }),
  API_TIMEOUT_MS: Type.Integer({ default: 30_000, minimum: 100, description: 'every request answers by then (504)' }),
  RATE_LIMIT_USER_PER_MINUTE: Type.Integer({ default: 300, minimum: 1 }),
  RATE_LIMIT_IP_PER_MINUTE: Type.Integer({ default: 600, minimum: 1 }),
  WS_MAX_PAYLOAD: Type.Integer({ default: 16_384, minimum: 256, maximum: 1_048_576 }),
  WS_MESSAGES_PER_10S: Type.Integer({ default: 20, minimum: 1, description: 'chat messages a socket may send' }),
  LLM_URL: Type.Optional(
    Type.String({ pattern: '^https?://', description: 'OpenAI-compatible base URL (…/v1); unset: no LLM' }),
  ),
  LLM_API_KEY: Type.Optional(Type.String({ minLength: 1 })),
  LLM_MODEL: Type.String({ default: 'gpt-4o-mini', minLength: 1 }),
  CHAT_BUDGET_MS: Type.Integer({ default: 25_000, minimum: 100, maximum: 30_000 }),
};
