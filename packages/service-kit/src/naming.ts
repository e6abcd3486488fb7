// Deployment namespacing of subjects, streams and durables, so deployments (and test files) can share one NATS.
import type { StreamDefinition } from '@grace/contracts';

export class Naming {
  constructor(readonly namespace: string) {}

  /** The subject on the wire for a contract subject. */
  subject(subject: string): string {
    return this.namespace ? `${this.namespace}.${subject}` : subject;
  }

  /** The contract subject of a subject on the wire. */
  unprefix(wireSubject: string): string {
    const prefix = this.namespace ? `${this.namespace}.` : '';
    return prefix && wireSubject.startsWith(prefix) ? wireSubject.slice(prefix.length) : wireSubject;
  }

  stream(stream: StreamDefinition | string): string {
    const name = typeof stream === 'string' ? stream : stream.name;
    return this.namespace ? `${this.namespace}_${name}` : name;
  }

  /** Durable consumer names may not hold dots. */
  durable(service: string, subject: string): string {
    return `${service}__${subject}`.replace(/[.*>\s]/g, '_');
  }
}
