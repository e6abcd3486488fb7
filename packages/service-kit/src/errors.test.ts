import { describe, expect, it } from '@jest/globals';
import { classifyError, InvalidInputError, PermanentError, TimeoutError, withTimeout } from './errors.js';

describe('error kinds', () => {
  it('tell invalid input and permanent failures from transient ones', () => {
    expect(classifyError(new InvalidInputError('bad'))).toBe('invalid');
    expect(classifyError(new PermanentError('no'))).toBe('permanent');
    expect(classifyError(Object.assign(new Error('x'), { name: 'ContractViolationError' }))).toBe('permanent');
    expect(classifyError(new Error('ECONNRESET'))).toBe('transient');
    expect(classifyError(new TimeoutError('handler', 10))).toBe('transient');
  });

  it('cut an operation at its time budget with a message saying which and how long', async () => {
    await expect(withTimeout(new Promise(() => undefined), 20, 'handler for error.reported')).rejects.toThrow(
      'handler for error.reported did not finish within 20 ms',
    );
    await expect(withTimeout(Promise.resolve(7), 20, 'x')).resolves.toBe(7);
  });
});
