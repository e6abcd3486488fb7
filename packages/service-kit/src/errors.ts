// The three kinds of failure the kit tells apart: invalid input, permanent failure, transient failure.

/** The event or request is wrong and will stay wrong: dead-letter (or 4xx) now, with the reasons. */
export class InvalidInputError extends Error {
  constructor(
    message: string,
    readonly errors: readonly { path: string; message: string }[] = [],
  ) {
    super(message);
    this.name = 'InvalidInputError';
  }
}

/** Retrying cannot help (a business rule refuses, a target says no for good): dead-letter now. */
export class PermanentError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'PermanentError';
  }
}

/** The operation ran out of its time budget (rule 6); counts as transient. */
export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} did not finish within ${ms} ms`);
    this.name = 'TimeoutError';
  }
}

export type FailureKind = 'invalid' | 'permanent' | 'transient';

export function classifyError(err: unknown): FailureKind {
  if (err instanceof InvalidInputError) return 'invalid';
  if (err instanceof PermanentError) return 'permanent';
  // Emitting an event that breaks its contract is a bug in this service; retrying emits it again.
  if (err instanceof Error && err.name === 'ContractViolationError') return 'permanent';
  return 'transient';
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  return String(err);
}

/** Resolve with the promise or reject with TimeoutError after `ms`; the timer never outlives the race. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}
