// Public surface of @grace/service-kit.
export * from './config.js';
export * from './consumer.js';
export * from './db.js';
export * from './errors.js';
export * from './file-watch.js';
export * from './http.js';
export * from './logger.js';
export * from './metrics.js';
export * from './migrate.js';
export * from './nats.js';
export * from './naming.js';
export * from './operator-file.js';
export * from './outbox.js';
export * from './periodic.js';
export * from './queries.js';
export * from './service.js';
export * from './work-pool.js';
