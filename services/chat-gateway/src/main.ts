// chat-gateway: `node main.js` runs the service, `node main.js migrate` only migrates its schema.
import { runService } from '@grace/service-kit';
import { chatGateway } from './service.js';

runService(chatGateway);
