// Before anything starts: is each service's port free? A taken one stops `grace up` with a message that says
// which service wanted it and how to choose others, instead of a service dying on EADDRINUSE halfway up.
import type { ServiceName } from '@grace/harness/system';
import { createServer } from 'node:net';

/** Whether a server could listen on `port` (on every interface, as the services do) right now. */
export function portFree(port: number, host = '0.0.0.0'): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen({ port, host, exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/** The services whose fixed port is taken, with the port. */
export async function takenPorts(ports: Record<ServiceName, number>): Promise<[ServiceName, number][]> {
  const taken: [ServiceName, number][] = [];
  for (const [service, port] of Object.entries(ports) as [ServiceName, number][])
    if (port !== 0 && !(await portFree(port))) taken.push([service, port]);
  return taken;
}
