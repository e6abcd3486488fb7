// The real Sentry SDK in a process of its own, as an application runs it: DSN, release and environment from the
// environment. It sends three envelopes, then flushes and prints {"flushed": true|false}:
// - a TypeError with an attachment (an item whose `length` spans lines, one of which looks like an item header);
// - a RangeError with a context large enough (over 32 KiB) that the SDK gzips its envelope;
// - a session (an item that is no error).
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
  Sentry.withScope((scope) => {
    scope.addAttachment({ filename: 'receipt.txt', data: 'line one\n{"type":"event"}\nline three\n' });
    Sentry.captureException(err);
  });
}

function priceCart(lines) {
  throw new RangeError(`cart of ${lines} lines is too large to price`);
}

try {
  priceCart(4_000);
} catch (err) {
  Sentry.withScope((scope) => {
    scope.setContext('cart', { lines: 'sku-0001 x1;'.repeat(4_000) });
    Sentry.captureException(err);
  });
}

Sentry.startSession();
Sentry.endSession();

const flushed = await Sentry.flush(10_000);
process.stdout.write(`${JSON.stringify({ flushed })}\n`);
