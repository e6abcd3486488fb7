// verifier: `node main.js` runs the service, `node main.js migrate` only migrates its schema.
import { runService } from '@grace/service-kit';
import { verifier } from './service.js';

runService(verifier);
