// docker-compose.yml: valid Compose, only our images and settings, files that exist, one role per service
// limited to its own schema (the init script run on the real Postgres), migrate before start, ports as documented.
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DATABASE_URL } from '@grace/service-kit/testing';
import { schemaForService } from '@grace/service-kit';
import { Ajv } from 'ajv';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { promisify } from 'node:util';
import pg from 'pg';
import { GRACE_SERVICES, REPO_ROOT, readCompose, withDefaults, type ComposeService } from './grace.js';

const compose = readCompose();
const services = Object.entries(compose.services);
const ours = (image: string | undefined) => /^grace\/([a-z0-9-]+)$/.exec(image ?? '')?.[1];
const graceContainers = services.filter(([, s]) => ours(s.image) !== undefined);
const byName = new Map(GRACE_SERVICES.map((s) => [s.name, s]));

/** `<SCHEMA>_DB_PASSWORD`: the variable holding a service role's password, for compose and the init script. */
const passwordVariable = (service: string) => `${schemaForService(service).toUpperCase()}_DB_PASSWORD`;

function environmentOf(service: ComposeService): Record<string, string> {
  return Object.fromEntries(Object.entries(service.environment ?? {}).map(([k, v]) => [k, String(v ?? '')]));
}

describe('docker-compose.yml', () => {
  it('validates against the Compose Specification schema', () => {
    // The spec's own schema (compose-spec.json, draft-07) as shipped by the `docker-compose` npm package.
    const require = createRequire(import.meta.url);
    const schema = JSON.parse(readFileSync(require.resolve('docker-compose/schema/compose-spec.json'), 'utf8')) as {
      $schema: string;
      title: string;
    };
    expect(schema.title).toBe('Compose Specification');
    expect(schema.$schema).toMatch(/json-schema\.org\/draft-07\/schema/);
    // strict: false, as the schema carries the old `id` keyword that ajv does not know. It names draft-07 by
    // its https address, which ajv knows by the http one: the same meta-schema under both.
    const ajv = new Ajv({ allErrors: true, strict: false });
    const draft07 = ajv.getSchema('http://json-schema.org/draft-07/schema')?.schema as object;
    ajv.addMetaSchema({ ...draft07, $id: schema.$schema });
    const validate = ajv.compile(schema);
    const valid = validate(compose);
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('runs every Grace service, each with a migrate step, and nothing else of ours', () => {
    const names = services.map(([name]) => name);
    for (const service of GRACE_SERVICES)
      expect(names).toEqual(expect.arrayContaining([service.name, `${service.name}-migrate`]));
    for (const [name, service] of graceContainers) {
      expect([ours(service.image), `${ours(service.image)}-migrate`]).toContain(name);
    }
  });

  it('uses our images built from deploy/Dockerfile for an existing service, or pinned third-party ones', () => {
    for (const [name, service] of services) {
      const ourService = ours(service.image);
      if (ourService !== undefined) {
        expect({ name, build: service.build }).toEqual({
          name,
          build: { context: '.', dockerfile: 'deploy/Dockerfile', args: { SERVICE: ourService } },
        });
        expect(byName.has(ourService)).toBe(true);
        expect(existsSync(`${REPO_ROOT}services/${ourService}/package.json`)).toBe(true);
      } else {
        expect({ name, build: service.build }).toEqual({ name, build: undefined });
        // A tag after the last `/`, with a version number in it: never `latest`, never none.
        const tag = /:([^:/]+)$/.exec(service.image ?? '')?.[1];
        expect({ name, image: service.image, pinned: tag !== undefined && tag !== 'latest' && /\d/.test(tag) }).toEqual(
          {
            name,
            image: service.image,
            pinned: true,
          },
        );
      }
    }
  });

  it('builds from a Dockerfile in the repository', () => {
    const dockerfiles = new Set(services.flatMap(([, s]) => (s.build?.dockerfile ? [s.build.dockerfile] : [])));
    expect([...dockerfiles]).toEqual(['deploy/Dockerfile']);
    expect(existsSync(`${REPO_ROOT}deploy/Dockerfile`)).toBe(true);
  });

  it('gives the Grace containers only settings their service has, HTTP_PORT its default port', () => {
    for (const [name, service] of graceContainers) {
      const grace = byName.get(ours(service.image) ?? '');
      if (grace === undefined) throw new Error(`${name}: ${service.image} is not a Grace service`);
      const unknown = Object.keys(environmentOf(service)).filter((key) => !grace.settings.has(key));
      expect({ name, unknown }).toEqual({ name, unknown: [] });
      const port = environmentOf(service).HTTP_PORT;
      if (port !== undefined) expect({ name, port: Number(port) }).toEqual({ name, port: grace.httpPort });
    }
  });

  it('mounts only files that exist in the repository, read-only, where the settings point', () => {
    for (const [name, service] of services) {
      const targets = new Set<string>();
      for (const volume of service.volumes ?? []) {
        const [source = '', target = '', mode] = volume.split(':');
        if (!source.startsWith('.')) continue; // a named volume
        expect({ name, source, exists: existsSync(`${REPO_ROOT}${source}`), mode }).toEqual({
          name,
          source,
          exists: true,
          mode: 'ro',
        });
        targets.add(target);
      }
      for (const [key, value] of Object.entries(environmentOf(service))) {
        if (key.endsWith('_FILE'))
          expect({ name, key, mounted: targets.has(value) }).toEqual({ name, key, mounted: true });
      }
    }
  });

  it("connects every Grace container as its service's own role, with the password the init script gets", () => {
    const postgres = environmentOf(compose.services.postgres ?? {});
    for (const [name, service] of graceContainers) {
      const serviceName = ours(service.image) ?? '';
      const raw = environmentOf(service).DATABASE_URL ?? '';
      const url = new URL(withDefaults(raw));
      expect({ name, user: url.username, host: url.host, database: url.pathname }).toEqual({
        name,
        user: schemaForService(serviceName),
        host: 'postgres:5432',
        database: `/${postgres.POSTGRES_DB}`,
      });
      // The same variable and the same dev default on both sides.
      const variable = passwordVariable(serviceName);
      expect(raw).toContain(`:${postgres[variable]}@`);
      expect(postgres[variable]).toMatch(new RegExp(`^\\$\\{${variable}:-[^}]+\\}$`));
    }
  });

  it('starts each service after its migrate step completed, and the migrate step after Postgres is healthy', () => {
    for (const grace of GRACE_SERVICES) {
      const service = compose.services[grace.name];
      const migrate = compose.services[`${grace.name}-migrate`];
      expect(service?.depends_on?.[`${grace.name}-migrate`]).toEqual({ condition: 'service_completed_successfully' });
      expect(service?.depends_on?.nats).toEqual({ condition: 'service_healthy' });
      expect(migrate).toMatchObject({
        image: service?.image,
        build: service?.build,
        command: ['migrate'],
        restart: 'no',
        depends_on: { postgres: { condition: 'service_healthy' } },
        environment: { DATABASE_URL: service?.environment?.DATABASE_URL },
      });
    }
  });

  it('publishes only the console (chat-gateway), the HTTP ingest (trigger-mesh) and the infrastructure', () => {
    const published = services.filter(([, s]) => (s.ports ?? []).length > 0).map(([name]) => name);
    expect(published.sort()).toEqual(['chat-gateway', 'grafana', 'nats', 'postgres', 'prometheus', 'trigger-mesh']);
  });

  it('has the ports deploy/README.md documents', () => {
    // The table of the "docker compose" section: | `container` | its port(s) | published on the host | what |
    const readme = readFileSync(`${REPO_ROOT}deploy/README.md`, 'utf8');
    const section = readme.split(/^## /m).find((s) => s.startsWith('docker compose')) ?? '';
    const rows = section
      .split('\n')
      .map((line) => /^\| `([a-z-]+)` \| ([^|]+) \| ([^|]+) \|/.exec(line))
      .filter((m): m is RegExpExecArray => m !== null);
    const numbers = (cell: string | undefined) => (cell ?? '').match(/\d+/g)?.map(Number) ?? [];
    const documented = Object.fromEntries(rows.map((m) => [m[1], { port: numbers(m[2]), published: numbers(m[3]) }]));
    const actual = Object.fromEntries(
      services
        .filter(([, s]) => s.ports !== undefined || s.environment?.HTTP_PORT !== undefined)
        .map(([name, s]) => [
          name,
          {
            port:
              s.environment?.HTTP_PORT !== undefined
                ? [Number(s.environment.HTTP_PORT)]
                : numbers((s.ports ?? []).map((p) => p.split(':')[1]).join(' ')),
            published: numbers((s.ports ?? []).map((p) => p.split(':')[0]).join(' ')),
          },
        ]),
    );
    expect(documented).toEqual(actual);
  });
});

describe('the Postgres init script (deploy/compose/postgres-init.sh) on the real server', () => {
  const id = randomBytes(4).toString('hex');
  const database = `grace_deploy_${id}`;
  // Roles are cluster-wide: a prefix keeps this run's apart from any other's.
  const prefix = `t${id}_`;
  const admin = new URL(DATABASE_URL);
  const postgresEnv = environmentOf(compose.services.postgres ?? {});
  const passwords = Object.fromEntries(
    GRACE_SERVICES.map((s) => [s.name, withDefaults(postgresEnv[passwordVariable(s.name)] ?? '')]),
  );
  const roleOf = (service: string) => `${prefix}${schemaForService(service)}`;
  const urlOf = (service: string) => {
    const url = new URL(DATABASE_URL);
    url.username = roleOf(service);
    url.password = passwords[service] ?? '';
    url.pathname = `/${database}`;
    return url.toString();
  };
  const superuser = new pg.Pool({ connectionString: DATABASE_URL, max: 1 });
  // A client, not a pool: its end() resolves once the server closed the connection. A pool's end() resolves
  // before that, and the `drop database ... with (force)` below then ends the backend still closing, which the
  // pool reports as an unhandled 'error' (57P01, "terminating connection due to administrator command").
  const adminOfDatabase = new pg.Client({
    connectionString: Object.assign(new URL(DATABASE_URL), { pathname: `/${database}` }).toString(),
  });
  let initOutput = '';

  beforeAll(async () => {
    await superuser.query(`create database ${database}`);
    const { stdout } = await promisify(execFile)('sh', [`${REPO_ROOT}deploy/compose/postgres-init.sh`], {
      env: {
        PATH: process.env.PATH,
        PGHOST: admin.hostname,
        PGPORT: admin.port || '5432',
        PGPASSWORD: decodeURIComponent(admin.password),
        POSTGRES_USER: decodeURIComponent(admin.username) || 'postgres',
        POSTGRES_DB: database,
        GRACE_DB_ROLE_PREFIX: prefix,
        ...Object.fromEntries(GRACE_SERVICES.map((s) => [passwordVariable(s.name), passwords[s.name]])),
      },
    });
    initOutput = stdout;
    await adminOfDatabase.connect();
  }, 60_000);

  afterAll(async () => {
    await adminOfDatabase.end();
    await superuser.query(`drop database if exists ${database} with (force)`);
    for (const service of GRACE_SERVICES) await superuser.query(`drop role if exists ${roleOf(service.name)}`);
    await superuser.end();
  });

  it('creates exactly one login role per service, owning the schema of its name, and nothing else', async () => {
    expect(initOutput).toContain(`role ${roleOf('trigger-mesh')} owns schema trigger_mesh`);
    const roles = await superuser.query<{
      rolname: string;
      rolcanlogin: boolean;
      rolsuper: boolean;
      rolcreatedb: boolean;
    }>(`select rolname, rolcanlogin, rolsuper, rolcreatedb from pg_roles where rolname like $1 order by rolname`, [
      `${prefix}%`,
    ]);
    expect(roles.rows).toEqual(
      GRACE_SERVICES.map((s) => ({
        rolname: roleOf(s.name),
        rolcanlogin: true,
        rolsuper: false,
        rolcreatedb: false,
      })).sort((a, b) => a.rolname.localeCompare(b.rolname)),
    );
    const schemas = await adminOfDatabase.query<{ schema: string; owner: string }>(
      `select nspname as schema, pg_get_userbyid(nspowner) as owner from pg_namespace
       where nspname not like 'pg\\_%' and nspname not in ('information_schema', 'public') order by nspname`,
    );
    expect(schemas.rows).toEqual(
      GRACE_SERVICES.map((s) => ({ schema: schemaForService(s.name), owner: roleOf(s.name) })).sort((a, b) =>
        a.schema.localeCompare(b.schema),
      ),
    );
  });

  it("lets every service's migrate step run as its own role", async () => {
    for (const service of GRACE_SERVICES) {
      const applied = await service.migrate({ DATABASE_URL: urlOf(service.name), LOG_LEVEL: 'silent' });
      expect({ service: service.name, kit: applied.filter((m) => m.startsWith('kit/')).length > 0 }).toEqual({
        service: service.name,
        kit: true,
      });
    }
    const owners = await adminOfDatabase.query<{ schema: string; owner: string }>(
      `select distinct schemaname as schema, tableowner as owner from pg_tables where schemaname <> all($1) order by 1`,
      [['pg_catalog', 'information_schema']],
    );
    expect(owners.rows).toEqual(
      GRACE_SERVICES.map((s) => ({ schema: schemaForService(s.name), owner: roleOf(s.name) })).sort((a, b) =>
        a.schema.localeCompare(b.schema),
      ),
    );
  }, 120_000);

  it("keeps a service inside its schema: no reading or creating in another's, in public, or a new schema", async () => {
    await adminOfDatabase.query('create table public.operator_notes (note text)');
    const sentinel = new pg.Client({ connectionString: urlOf('sentinel') });
    await sentinel.connect();
    try {
      await sentinel.query('create table sentinel.isolation_probe (id int)');
      await sentinel.query('insert into sentinel.isolation_probe values (1)');
      const refused = async (statement: string) => {
        const error = await sentinel.query(statement).then(
          () => undefined,
          (e: unknown) => e as { code?: string; message?: string },
        );
        return { statement, refused: error?.code === '42501' ? 'permission denied' : (error?.message ?? 'allowed') };
      };
      for (const statement of [
        'select * from trigger_mesh.inbox',
        'create table trigger_mesh.intruder (id int)',
        'select * from action_executor.kit_migrations',
        'select * from public.operator_notes',
        'create table public.intruder (id int)',
        'create schema intruder',
      ]) {
        expect(await refused(statement)).toEqual({ statement, refused: 'permission denied' });
      }
    } finally {
      await sentinel.end();
    }
  });
});
