// /ingest/sentry: one Sentry event (JSON) -> error.reported.
import { createEvent, validateData } from '@grace/contracts';
import { HttpError } from '@grace/service-kit';
import { mapSentry, validateSentryEvent } from '../domain/sentry.js';
import { parseJson, type IngestRoute } from './route.js';

export const sentryRoute: IngestRoute = {
  name: 'sentry',
  paths: ['/ingest/sentry'],
  async handle(req, { producer, body, publishAll }) {
    const checked = validateSentryEvent(parseJson(req, body));
    if (!checked.ok) throw new HttpError(400, 'invalid_request', 'not a Sentry event', { details: checked.errors });
    const service = typeof req.query.service === 'string' ? req.query.service : producer.service;
    const mapped = validateData('error.reported', mapSentry(checked.value, service ? { service } : {}));
    if (!mapped.ok)
      throw new HttpError(400, 'invalid_request', 'the Sentry event does not map to an error', {
        details: mapped.errors,
      });
    const event = createEvent('error.reported', mapped.value, { source: `ingest/${producer.name}` });
    await publishAll([event]);
    return { accepted: 1, event_ids: [event.id] };
  },
};
