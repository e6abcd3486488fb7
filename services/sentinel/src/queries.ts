// sentinel.query.*: incidents (filtered, paged), one incident with timeline and trail, the catalog with statistics.
import type { EventData, QueryReply, QueryRequest } from '@grace/contracts';
import { decodeCursor, encodeCursor, QueryError } from '@grace/service-kit';
import type { Kysely } from 'kysely';
import { planFor, type CompiledCatalog } from './domain/catalog.js';
import { decisionOf, incidentData } from './remediation.js';
import { addMute, listIncidents, getIncident, statsOf, type Database, type IncidentSummary } from './store.js';

const incidentOf = (row: IncidentSummary) => ({ ...incidentData(row), status: row.status });

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function afterCursor(cursor: string): { openedAt: string; id: string } {
  const [openedAt, id] = decodeCursor(cursor, 2) as [string, string];
  if (Number.isNaN(Date.parse(openedAt)) || !UUID.test(id))
    throw new QueryError('invalid_request', 'cursor is not one this service gave out');
  return { openedAt, id };
}

export function incidentsQuery(db: Kysely<Database>) {
  return async (req: QueryRequest<'sentinel.query.incidents'>): Promise<QueryReply<'sentinel.query.incidents'>> => {
    const limit = req.limit ?? 50;
    const { cursor, ...filter } = req;
    const rows = await listIncidents(db, {
      ...filter,
      limit: limit + 1,
      ...(cursor ? { after: afterCursor(cursor) } : {}),
    });
    const page = rows.slice(0, limit);
    const last = page[page.length - 1];
    return {
      items: page.map(incidentOf),
      ...(rows.length > limit && last
        ? {
            next_cursor: encodeCursor([new Date(last.opened_at).toISOString(), last.id]),
          }
        : {}),
    };
  };
}

export function incidentQuery(db: Kysely<Database>) {
  return async (req: QueryRequest<'sentinel.query.incident'>): Promise<QueryReply<'sentinel.query.incident'>> => {
    const row = UUID.test(req.incident_id) ? await getIncident(db, req.incident_id) : undefined;
    if (!row) throw new QueryError('not_found', `no incident ${req.incident_id}`);
    return {
      incident: incidentOf(row),
      timeline: row.timeline.slice(-256).map((t) => ({
        status: t.status,
        ...(t.previous_status ? { previous_status: t.previous_status } : {}),
        reason: t.reason,
        at: new Date(t.at).toISOString(),
      })),
      trail: row.trail.slice(0, 32).map(decisionOf),
    };
  };
}

export function playbooksQuery(db: Kysely<Database>, catalog: () => CompiledCatalog, version: () => string) {
  return async (req: QueryRequest<'sentinel.query.playbooks'>): Promise<QueryReply<'sentinel.query.playbooks'>> => {
    const current = catalog();
    const stats = await statsOf(db, req);
    const byPlaybook = new Map<string, EventData<'playbook.stats.updated'>[]>();
    for (const s of stats) byPlaybook.set(s.playbook, [...(byPlaybook.get(s.playbook) ?? []), s.stats]);
    const playbooks = current.playbooks
      .filter((p) => !req.playbook || p.name === req.playbook)
      .slice(0, 200)
      .map((p) => {
        const d = p.definition;
        return {
          name: p.name,
          ...(p.description ? { description: p.description } : {}),
          applies_to: d.applies_to as Record<string, unknown>,
          adapter: p.adapter,
          action: p.action,
          tier: p.tier,
          timeout_ms: p.timeoutMs,
          cooldown_ms: p.cooldownMs,
          template: {
            ...(d.target ? { target: d.target } : {}),
            params: d.params ?? {},
            expected_effect: d.expected_effect,
            checks: d.checks,
          },
          statistics: (byPlaybook.get(p.name) ?? []).slice(0, 100),
        };
      });
    return { catalog_version: version(), playbooks };
  };
}

/** An operator runs a playbook outside any incident: its plan, filled from the service and the given attributes. */
export function planQuery(catalog: () => CompiledCatalog, version: () => string) {
  return async (req: QueryRequest<'sentinel.query.plan'>): Promise<QueryReply<'sentinel.query.plan'>> => {
    const playbook = catalog().playbooks.find((p) => p.name === req.playbook);
    if (!playbook) throw new QueryError('not_found', `no playbook ${req.playbook} in the catalog`);
    try {
      const plan = planFor(playbook, {
        service: req.service,
        environment: req.environment,
        kind: 'OperatorRequest',
        severity: 'error',
        message: `${req.playbook} run by an operator`,
        fingerprint: `operator:${req.service}:${req.environment}`,
        ...(req.attributes ? { attributes: req.attributes } : {}),
      });
      return { plan, catalog_version: version() };
    } catch (err) {
      throw new QueryError('invalid_request', (err as Error).message);
    }
  };
}

export function muteQuery(db: Kysely<Database>) {
  return async (req: QueryRequest<'sentinel.control.mute'>): Promise<QueryReply<'sentinel.control.mute'>> => {
    if (!req.fingerprint && !req.signature)
      throw new QueryError('invalid_request', 'name a fingerprint or a signature');
    const until = new Date(req.until);
    if (until.getTime() <= Date.now()) throw new QueryError('invalid_request', 'until is in the past');
    const row = await addMute(db, {
      fingerprint: req.fingerprint ?? null,
      signature: req.signature ?? null,
      until,
      by: req.by,
      reason: req.reason,
    });
    return {
      mute_id: row.id,
      ...(row.fingerprint ? { fingerprint: row.fingerprint } : {}),
      ...(row.signature ? { signature: row.signature } : {}),
      until: new Date(row.until).toISOString(),
      by: row.by,
      reason: row.reason,
    };
  };
}
