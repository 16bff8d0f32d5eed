import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  AuthenticationException,
  CallAbortedException,
  CircuitOpenException,
  ClientClosedException,
  ConnectionFailureException,
  DeadlineExceededException,
  PendingLimitException,
  ProtocolException,
  RemoteCallException,
  RetriesExhaustedException,
  UnknownOutcomeException,
  type RPCException,
  type RPCExceptionKind,
} from '../../src/errors.js';
import { decideRetry, type RetryRuleContext } from '../../src/policy/retry-rules.js';

const makers: Record<RPCExceptionKind, (code: number) => RPCException> = {
  'connection-failure': () => new ConnectionFailureException('refused', { retryAfterMs: 100 }),
  'unknown-outcome': () => new UnknownOutcomeException('reset after write'),
  'remote-call': (code) => new RemoteCallException(code, 'boom', null),
  authentication: () => new AuthenticationException(401, 'no'),
  protocol: () => new ProtocolException('not json'),
  'circuit-open': () => new CircuitOpenException('open'),
  'deadline-exceeded': () => new DeadlineExceededException('late'),
  'retries-exhausted': () => new RetriesExhaustedException('gave up', 'attempts', []),
  'client-closed': () => new ClientClosedException(),
  'call-aborted': () => new CallAbortedException(),
  'pending-limit': () => new PendingLimitException('full'),
};
const kinds = Object.keys(makers) as RPCExceptionKind[];

const contextArb: fc.Arbitrary<RetryRuleContext> = fc.record({
  idempotent: fc.boolean(),
  retryOnCodes: fc.option(fc.array(fc.integer({ min: -32768, max: 32767 }), { maxLength: 4 }), { nil: undefined }),
  hasIdempotencyKey: fc.boolean(),
  serverDeduplicates: fc.boolean(),
  whenOpen: fc.constantFrom('fail' as const, 'wait' as const, undefined),
});

/** `makers[kind]` again, with the server's gRFC A6 "do not retry" on it. */
const declined: Record<RPCExceptionKind, (code: number) => RPCException> = {
  'connection-failure': () => new ConnectionFailureException('not active', { retryAfterMs: 100, doNotRetry: true }),
  'unknown-outcome': () => new UnknownOutcomeException('reset after write', { doNotRetry: true }),
  'remote-call': (code) => new RemoteCallException(code, 'boom', null, { doNotRetry: true }),
  authentication: () => new AuthenticationException(401, 'no', { doNotRetry: true }),
  protocol: () => new ProtocolException('not json', { doNotRetry: true }),
  'circuit-open': () => new CircuitOpenException('open', { doNotRetry: true }),
  'deadline-exceeded': () => new DeadlineExceededException('late', { doNotRetry: true }),
  'retries-exhausted': () => new RetriesExhaustedException('gave up', 'attempts', [], { doNotRetry: true }),
  'client-closed': () => new ClientClosedException(undefined, { doNotRetry: true }),
  'call-aborted': () => new CallAbortedException(undefined, { doNotRetry: true }),
  'pending-limit': () => new PendingLimitException('full', { doNotRetry: true }),
};

describe('retry rules (DESIGN §2 "retried" column)', () => {
  it("the server's do-not-retry (gRFC A6) wins over every kind and every flag, \"not executed\" included", () => {
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.integer({ min: -32768, max: 32767 }), contextArb, (kind, code, ctx) => {
        const error = declined[kind](code);
        expect(error.doNotRetry).toBe(true);
        expect(decideRetry(error, ctx)).toEqual({ retry: false, reason: 'server-declined' });
      }),
    );
    // Without it, nothing changes: the flag is absent, not false, on every other exception.
    for (const kind of kinds) expect(Object.hasOwn(makers[kind](1), 'doNotRetry')).toBe(false);
  });

  it('are total, and match the table for every error kind × every flag combination', () => {
    fc.assert(
      fc.property(fc.constantFrom(...kinds), fc.integer({ min: -32768, max: 32767 }), contextArb, (kind, code, ctx) => {
        const error = makers[kind](code);
        const verdict = decideRetry(error, ctx);
        const safeToRepeat = ctx.idempotent || (ctx.hasIdempotencyKey && ctx.serverDeduplicates);
        switch (kind) {
          case 'connection-failure':
            expect(verdict).toEqual({ retry: true, reason: 'not-executed' });
            break;
          case 'unknown-outcome':
          case 'protocol':
            expect(verdict.retry).toBe(safeToRepeat);
            if (!safeToRepeat) expect(verdict.reason).toBe('may-have-executed');
            break;
          case 'remote-call':
            expect(verdict.retry).toBe(ctx.retryOnCodes?.includes(code) ?? false);
            break;
          case 'authentication':
            expect(verdict).toEqual({ retry: false, reason: 'authentication' });
            break;
          case 'circuit-open':
            expect(verdict.retry).toBe(ctx.whenOpen === 'wait');
            break;
          default:
            expect(verdict).toEqual({ retry: false, reason: 'final' });
        }
        // Whatever the flags, something that may have run is repeated only when that is safe
        // (or the application opted in for a code the server itself returned).
        if (verdict.retry && error.mayHaveExecuted && kind !== 'remote-call') expect(safeToRepeat).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it('never throws and never retries what it cannot classify', () => {
    fc.assert(
      fc.property(fc.anything(), contextArb, (value, ctx) => {
        expect(decideRetry(value, ctx)).toEqual({ retry: false, reason: 'unclassified' });
      }),
    );
    expect(decideRetry(new TypeError('bug'), { idempotent: true, hasIdempotencyKey: true, serverDeduplicates: true })).toEqual({
      retry: false,
      reason: 'unclassified',
    });
  });

  it('the dedup rule needs both the key and the server promise', () => {
    const unknown = new UnknownOutcomeException('504');
    const base = { idempotent: false, hasIdempotencyKey: true, serverDeduplicates: true };
    expect(decideRetry(unknown, base)).toEqual({ retry: true, reason: 'deduplicated' });
    expect(decideRetry(unknown, { ...base, hasIdempotencyKey: false }).retry).toBe(false);
    expect(decideRetry(unknown, { ...base, serverDeduplicates: false }).retry).toBe(false);
    expect(decideRetry(unknown, { ...base, idempotent: true, serverDeduplicates: false })).toEqual({ retry: true, reason: 'idempotent' });
  });
});
