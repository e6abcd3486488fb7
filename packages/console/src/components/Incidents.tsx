// Incidents: the open incidents, fetched once and then kept current from the live stream; a row opens its detail.
import { useCallback, useEffect, useState, type FormEvent } from 'react';
import { api } from '../api';
import { useSession, useStreamEvents } from '../context';
import { compareTime, formatRelative, formatTime } from '../format';
import { navigate } from '../route';
import type { Incident, IncidentsReply } from '../types';
import { Badge } from './Badge';
import { IncidentDetail } from './IncidentDetail';

const PAGE_SIZE = 100;
const CLOSED = new Set(['resolved', 'escalated']);

interface Filter {
  openOnly: boolean;
  service: string;
}

function isIncident(value: Record<string, unknown>): value is Record<string, unknown> & Incident {
  return typeof value.incident_id === 'string' && typeof value.status === 'string';
}

/** Keeps the newer of two versions of an incident (by changed_at; an equal one replaces). */
function merge(list: Incident[], incoming: Incident[], filter: Filter): Incident[] {
  const byId = new Map(list.map((incident) => [incident.incident_id, incident]));
  for (const incident of incoming) {
    const current = byId.get(incident.incident_id);
    if (current && compareTime(incident.changed_at, current.changed_at) < 0) continue;
    byId.set(incident.incident_id, incident);
  }
  return [...byId.values()]
    .filter((incident) => !filter.openOnly || !CLOSED.has(incident.status))
    .filter((incident) => !filter.service || incident.service === filter.service)
    .sort((a, b) => compareTime(b.opened_at, a.opened_at));
}

export function Incidents({ selectedId }: { selectedId: string | undefined }) {
  const { report } = useSession();
  const [filter, setFilter] = useState<Filter>({ openOnly: true, service: '' });
  const [serviceInput, setServiceInput] = useState('');
  const [items, setItems] = useState<Incident[]>([]);
  const [cursor, setCursor] = useState<string | undefined>(undefined);
  const [loading, setLoading] = useState(true);
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(() => Date.now());

  const fetchPage = useCallback(
    async (after: string | undefined, signal?: AbortSignal) => {
      setLoading(true);
      try {
        const reply = await api<IncidentsReply>('/incidents', {
          query: {
            open: filter.openOnly ? true : undefined,
            service: filter.service || undefined,
            limit: PAGE_SIZE,
            cursor: after,
          },
          signal,
          action: 'list incidents',
        });
        if (signal?.aborted) return;
        // The list was emptied when the filter changed; events that arrived meanwhile are kept if newer.
        setItems((list) => merge(list, reply.items, filter));
        setCursor(reply.next_cursor);
        setError(null);
        setLoaded(true);
        setNow(Date.now());
      } catch (err) {
        if (signal?.aborted) return;
        setError(err instanceof Error ? err.message : String(err));
        report(err);
      } finally {
        if (!signal?.aborted) setLoading(false);
      }
    },
    [filter, report],
  );

  useEffect(() => {
    const controller = new AbortController();
    setItems([]);
    void fetchPage(undefined, controller.signal);
    return () => controller.abort();
  }, [fetchPage]);

  // Live: every incident event carries the incident's whole state.
  useStreamEvents(['incident.'], (_subject, data) => {
    if (!isIncident(data)) return;
    setItems((list) => merge(list, [data], filter));
    setNow(Date.now());
  });

  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);

  const applyService = (event: FormEvent) => {
    event.preventDefault();
    setFilter((f) => ({ ...f, service: serviceInput.trim() }));
  };

  return (
    <div className={selectedId ? 'split' : ''}>
      <section className="panel" data-testid="incidents">
        <div className="panel-head">
          <h2>Incidents</h2>
          <form className="filters" onSubmit={applyService}>
            <label className="inline">
              <input
                type="checkbox"
                checked={filter.openOnly}
                onChange={(event) => setFilter((f) => ({ ...f, openOnly: event.target.checked }))}
                data-testid="incidents-open-only"
              />
              Open only
            </label>
            <input
              type="search"
              placeholder="service"
              value={serviceInput}
              onChange={(event) => setServiceInput(event.target.value)}
              aria-label="Filter by service"
              data-testid="incidents-service"
            />
            <button type="submit" className="secondary">
              Filter
            </button>
          </form>
        </div>
        {error && !loaded && <p className="error-text">{error}</p>}
        {loaded && items.length === 0 && (
          <p className="muted" data-testid="incidents-empty">
            No {filter.openOnly ? 'open ' : ''}incidents.
          </p>
        )}
        {!loaded && loading && <p className="muted">Loading…</p>}
        {items.length > 0 && (
          <table className="table clickable" data-testid="incident-list">
            <thead>
              <tr>
                <th>Severity</th>
                <th>Service</th>
                <th>Kind</th>
                <th>Status</th>
                <th className="num">Attempts</th>
                <th className="num">Occurrences</th>
                <th>Opened</th>
                <th>Changed</th>
              </tr>
            </thead>
            <tbody>
              {items.map((incident) => (
                <tr
                  key={incident.incident_id}
                  data-testid="incident-row"
                  data-incident-id={incident.incident_id}
                  data-status={incident.status}
                  className={incident.incident_id === selectedId ? 'selected' : undefined}
                  tabIndex={0}
                  onClick={() => navigate('incidents', incident.incident_id)}
                  onKeyDown={(event) => {
                    if (event.key === 'Enter') navigate('incidents', incident.incident_id);
                  }}
                >
                  <td>
                    <Badge value={incident.severity} />
                  </td>
                  <td>
                    {incident.service}
                    <span className="muted"> / {incident.environment}</span>
                  </td>
                  <td className="wrap">{incident.kind}</td>
                  <td>
                    <Badge value={incident.status} />
                  </td>
                  <td className="num">{incident.attempts}</td>
                  <td className="num">{incident.occurrences}</td>
                  <td title={formatTime(incident.opened_at)}>{formatRelative(incident.opened_at, now)}</td>
                  <td title={formatTime(incident.changed_at)}>{formatRelative(incident.changed_at, now)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
        {cursor && (
          <button type="button" className="secondary" disabled={loading} onClick={() => void fetchPage(cursor)}>
            Load more
          </button>
        )}
      </section>
      {selectedId && <IncidentDetail id={selectedId} />}
    </div>
  );
}
