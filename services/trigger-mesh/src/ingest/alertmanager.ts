// /ingest/alertmanager: Alertmanager's webhook (version 4) -> error.reported per firing alert; resolved alerts
// are recorded.
import { createEvent, validateSchema } from '@grace/contracts';
import { HttpError } from '@grace/service-kit';
import { AlertmanagerWebhook, mapAlertmanager, type AlertmanagerWebhookType } from '../domain/alertmanager.js';
import { recordResolvedAlerts } from '../store.js';
import { parseJson, type IngestRoute } from './route.js';

export const alertmanagerRoute: IngestRoute = {
  name: 'alertmanager',
  paths: ['/ingest/alertmanager'],
  async handle(req, { deps, producer, body, publishAll }) {
    const checked = validateSchema<AlertmanagerWebhookType>(AlertmanagerWebhook, parseJson(req, body));
    if (!checked.ok) {
      throw new HttpError(400, 'invalid_request', 'not an Alertmanager webhook (version 4) payload', {
        details: checked.errors,
      });
    }
    const { reports, resolved } = mapAlertmanager(checked.value);
    const events = reports.map((r) => createEvent('error.reported', r, { source: `ingest/${producer.name}` }));
    await publishAll(events);
    await recordResolvedAlerts(deps.db, producer.name, resolved);
    return { accepted: events.length, resolved_recorded: resolved.length, event_ids: events.map((e) => e.id) };
  },
};
