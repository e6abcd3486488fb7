// learning-loop: `node main.js` runs the service, `node main.js migrate` only migrates its schema.
import { runService } from '@grace/service-kit';
import { learningLoop } from './service.js';

runService(learningLoop);
