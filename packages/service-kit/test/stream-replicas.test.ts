// Stream replicas and storage from the kit's settings (STREAM_REPLICAS, STREAM_STORAGE), on a real 3-node JetStream
// cluster this test starts on free ports with the nats-server on PATH (CI puts scripts/tools.sh's first).
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { streams } from '@grace/contracts';
import { jetstreamManager, StorageType, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/nats-core';
import { connect } from '@nats-io/transport-node';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Naming, startService, type RunningService } from '../src/index.js';
import { memoryLogger, type LogLine } from '../src/testing.js';
import { ensureStream, ensureStreams } from '../src/nats.js';
import { startNatsClusterProcess, type NatsClusterProcess } from '../src/nats-server.js';
import { ledgerService, type LedgerDb } from './fixtures/ledger-service.js';
import { createSandbox, waitFor, type Sandbox } from './support.js';

describe('streams on a 3-node JetStream cluster', () => {
  let storeDir: string;
  let cluster: NatsClusterProcess;
  let nc: NatsConnection;
  let jsm: JetStreamManager;

  const namespace = (label: string) => new Naming(`t_${label}${randomBytes(4).toString('hex')}`);
  /** The stream's info once it has `replicas` copies: its own and `replicas - 1` peers the cluster reports. */
  const withReplicas = (name: string, replicas: number) =>
    waitFor(`${name} on ${replicas} servers`, async () => {
      const info = await jsm.streams.info(name);
      return info.config.num_replicas === replicas && info.cluster?.replicas?.length === replicas - 1 && info;
    });

  beforeAll(async () => {
    storeDir = mkdtempSync(join(tmpdir(), 'grace-nats-cluster-'));
    cluster = await startNatsClusterProcess({ storeDir });
    nc = await connect({ servers: cluster.url.split(',') });
    jsm = await jetstreamManager(nc);
  }, 60_000);

  afterAll(async () => {
    await nc?.close();
    await cluster?.stop('SIGKILL');
    rmSync(storeDir, { recursive: true, force: true });
  });

  it('creates every stream with STREAM_REPLICAS copies', async () => {
    const naming = namespace('r3');
    await ensureStreams(jsm, naming, { replicas: 3 });
    for (const def of streams) {
      const info: StreamInfo = await withReplicas(naming.stream(def), 3);
      expect(info.config.storage).toBe(StorageType.File);
      expect(info.cluster?.replicas).toHaveLength(2);
    }
  });

  it('updates a stream created with one replica to three', async () => {
    const naming = namespace('up');
    await ensureStreams(jsm, naming);
    for (const def of streams) expect((await jsm.streams.info(naming.stream(def))).config.num_replicas).toBe(1);
    await ensureStreams(jsm, naming, { replicas: 3 });
    for (const def of streams) await withReplicas(naming.stream(def), 3);
  });

  it('keeps the storage of an existing stream, warning about the difference, and still updates its replicas', async () => {
    const naming = namespace('st');
    const [def] = streams;
    if (!def) throw new Error('no streams');
    await ensureStream(jsm, naming, def, { storage: 'memory' });
    // The kit's own in-memory logger (testing.ts): what ensureStream logged, line by line.
    const lines: LogLine[] = [];
    await ensureStream(jsm, naming, def, { storage: 'file', replicas: 3, log: memoryLogger('streams', lines) });
    const info = await withReplicas(naming.stream(def), 3);
    expect(info.config.storage).toBe(StorageType.Memory);
    const warnings = lines.filter((l) => l.level === 'warn');
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ stream: naming.stream(def), storage: 'memory', configured: 'file' });
    expect(warnings[0]!.msg).toMatch(/has memory storage but STREAM_STORAGE is file: NATS cannot change/);
  });

  describe('a service started with STREAM_REPLICAS=3 and STREAM_STORAGE=memory', () => {
    let sandbox: Sandbox;
    let service: RunningService<LedgerDb, unknown> | undefined;

    beforeAll(async () => {
      // The sandbox's streams are on the shared NATS; on the cluster the service creates its own.
      sandbox = await createSandbox('replicas');
      service = (await startService(ledgerService, {
        ...sandbox.env,
        NATS_URL: cluster.url,
        STREAM_REPLICAS: '3',
        STREAM_STORAGE: 'memory',
      })) as RunningService<LedgerDb, unknown>;
    });

    afterAll(async () => {
      await service?.stop();
      await sandbox?.cleanup();
    });

    it('creates every stream with three replicas in memory', async () => {
      const naming = new Naming(sandbox.namespace);
      for (const def of streams) {
        const info = await withReplicas(naming.stream(def), 3);
        expect(info.config.storage).toBe(StorageType.Memory);
      }
    });
  });
});
