// action-executor: `node main.js` runs the service, `node main.js migrate` only migrates its schema.
import { runService } from '@grace/service-kit';
import { actionExecutor } from './service.js';

runService(actionExecutor);
