// The Grace event id of what a producer sends: derived from who sent it and the id it carries, so a retry of the
// same event (a CloudEvent, a Sentry event, an Alertmanager alert's firing) is stored once.
import { createHash } from 'node:crypto';

/**
 * The Grace event id of a producer's event (a CloudEvent's `source` and `id`, or the like for other formats): a UUID (RFC 9562 version 8, from sha256 over the producer's
 * name, the event's `source` and its `id`). CloudEvents makes `source` + `id` unique per event, so a retry gets
 * the same Grace id (and the bus and the inboxes drop it), while two producers or two sources that reuse an id
 * get different ones.
 */
export function graceEventId(producer: string, source: string, id: string): string {
  const hex = createHash('sha256')
    .update(JSON.stringify([producer, source, id]))
    .digest('hex');
  const variant = ((parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-8${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}
