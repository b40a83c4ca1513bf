import { describe, expect, it } from 'vitest';
import {
  AuthError,
  CapacityError,
  DaemonStoppingError,
  fromPlainError,
  PermanentError,
  StalePlanError,
  toPlainError,
  TransientError,
  UnmanageableError,
} from '../../src/errors.js';

/** what crosses from the run thread to the daemon's (structured clone of a plain object) */
const across = (e: unknown) => fromPlainError(structuredClone(toPlainError(e)));

describe('errors from the run thread', () => {
  it('arrive of their own class, with what they carry', () => {
    const details = { origin: 'wire', status: 403, label: 'invalid-op' };
    const cases: [Error, Record<string, unknown>][] = [
      [new TransientError('gateway', { origin: 'wire', status: 504, ambiguous: true }), { kind: 'transient', ambiguous: true, throttled: false, status: 504 }],
      [new TransientError('slow down', { origin: 'wire', status: 420, throttled: true }), { throttled: true, ambiguous: false }],
      [new AuthError('refused', { origin: 'wire', status: 403, label: 'invalid-credentials' }), { kind: 'auth', label: 'invalid-credentials' }],
      [new PermanentError('bad', details), { kind: 'permanent', label: 'invalid-op' }],
      [new UnmanageableError('mls', 'migrated to MLS by a member', details), { kind: 'permanent', reason: 'migrated to MLS by a member' }],
      [new CapacityError('too many', { origin: 'wire' }), { kind: 'capacity' }],
      [new StalePlanError('moved'), {}],
      [new DaemonStoppingError(), {}],
    ];
    for (const [sent, carried] of cases) {
      const got = across(sent);
      expect(got.constructor, sent.name).toBe(sent.constructor);
      expect(got.message).toBe(sent.message);
      expect(got).toMatchObject({ name: sent.name, ...carried });
    }
    const other = across(new RangeError('no such run'));
    expect([other.name, other.message]).toEqual(['RangeError', 'no such run']);
  });
});
