// The real Sentry SDK in a process of its own, as an application runs it: DSN, release and environment from the
// environment; one exception captured and flushed. Prints {"flushed": true|false}.
import * as Sentry from '@sentry/node';

Sentry.init({
  dsn: process.env.SENTRY_DSN,
  release: process.env.SENTRY_RELEASE,
  environment: process.env.SENTRY_ENVIRONMENT,
  tracesSampleRate: 0,
});

function chargeCard(amount) {
  throw new TypeError(`card processor answered 502 for ${amount}`);
}

try {
  chargeCard(42);
} catch (err) {
  Sentry.captureException(err);
}
const flushed = await Sentry.flush(10_000);
process.stdout.write(`${JSON.stringify({ flushed })}\n`);
