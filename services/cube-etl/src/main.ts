// cube-etl: `node main.js` runs the service, `node main.js migrate` only migrates its schema.
import { runService } from '@grace/service-kit';
import { cubeEtl } from './service.js';

runService(cubeEtl);
