import { describe, expect, it } from '@jest/globals';
import { Type } from '@sinclair/typebox';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('gives every kit setting a default that runs against local servers', () => {
    const config = loadConfig('svc', undefined, {});
    expect(config).toMatchObject({
      NATS_URL: 'nats://127.0.0.1:4222',
      DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/postgres',
      CONSUMER_CONCURRENCY: 6,
      ACK_WAIT_MS: 10_000,
      GRACE_NAMESPACE: '',
      LOG_LEVEL: 'info',
    });
  });

  it('coerces numbers from the environment and keeps the service settings typed', () => {
    const config = loadConfig(
      'svc',
      { WINDOW_MS: Type.Integer({ default: 1000 }), API_TOKEN: Type.String() },
      {
        WINDOW_MS: '2500',
        API_TOKEN: 'abc',
        CONSUMER_CONCURRENCY: '12',
      },
    );
    expect(config.WINDOW_MS).toBe(2500);
    expect(config.API_TOKEN).toBe('abc');
    expect(config.CONSUMER_CONCURRENCY).toBe(12);
  });

  it('names every missing or bad variable in one error', () => {
    let error: unknown;
    try {
      loadConfig(
        'trigger-mesh',
        { API_TOKEN: Type.String() },
        { ACK_WAIT_MS: '10', LOG_LEVEL: 'loud', DATABASE_URL: 'mysql://x' },
      );
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems;
    expect(problems).toEqual(
      expect.arrayContaining([
        'API_TOKEN is required',
        'ACK_WAIT_MS must be >= 1000 (got "10")',
        expect.stringMatching(/^LOG_LEVEL must be equal to one of the allowed values \(got "loud"\)/),
        expect.stringMatching(/^DATABASE_URL must match pattern/),
      ]),
    );
    expect((error as Error).message).toMatch(/^invalid configuration for trigger-mesh: /);
  });

  it('takes stream replicas 1..5 (default 1) and file or memory storage (default file)', () => {
    expect(loadConfig('svc', undefined, {})).toMatchObject({ STREAM_REPLICAS: 1, STREAM_STORAGE: 'file' });
    expect(loadConfig('svc', undefined, { STREAM_REPLICAS: '3', STREAM_STORAGE: 'memory' })).toMatchObject({
      STREAM_REPLICAS: 3,
      STREAM_STORAGE: 'memory',
    });
    expect(() => loadConfig('svc', undefined, { STREAM_REPLICAS: '6', STREAM_STORAGE: 'disk' })).toThrow(
      /STREAM_REPLICAS must be <= 5 \(got "6"\).*STREAM_STORAGE must be equal to one of the allowed values \(got "disk"\)/,
    );
  });

  it('treats an empty variable as unset, so the default applies', () => {
    expect(loadConfig('svc', undefined, { HTTP_HOST: '' }).HTTP_HOST).toBe('0.0.0.0');
  });
});
