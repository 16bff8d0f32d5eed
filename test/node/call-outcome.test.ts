/**
 * The outcome decision (src/node/call-outcome.ts) and the failure kinds (src/node/failure-kind.ts)
 * must hold for every input: properties over every phase × stop.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decideAnswer, type CallPhase, type CallStop } from '../../src/node/call-outcome.js';
import { isInfrastructureFailure } from '../../src/node/failure-kind.js';
import { FencingError, LeaseError, LeaseLostError, LeaseTimeoutError } from '../../src/lease/errors.js';
import { RpcError } from '../../src/node/rpc-error.js';

const phase = fc.constantFrom<CallPhase>('not-started', 'running', 'commit-sent', 'committed');
const handlerError = fc.oneof(
  fc.tuple(fc.integer({ min: -40000, max: 40000 }), fc.string(), fc.option(fc.jsonValue(), { nil: undefined })).map(([c, m, d]) => new RpcError(c, m, d)),
  fc.string().map((m) => new Error(m)),
  fc.anything(),
);
const stop: fc.Arbitrary<CallStop> = fc.oneof(
  handlerError.map((error) => ({ kind: 'handler-error' as const, error })),
  fc.constantFrom<CallStop>({ kind: 'infrastructure' }, { kind: 'not-committed' }, { kind: 'lease-lost' }, { kind: 'expired' }, { kind: 'stopped' }, { kind: 'idle' }),
);

describe('decideAnswer', () => {
  it('committed → the committed outcome; COMMIT sent → COMMIT_UNKNOWN unless the store certifies it did not commit', () => {
    fc.assert(
      fc.property(phase, stop, (p, s) => {
        const answer = decideAnswer(p, s);
        if (p === 'committed') expect(answer).toEqual({ kind: 'committed' });
        if (p === 'commit-sent') expect(answer).toEqual(s.kind === 'not-committed' ? { kind: 'not-executed', error: 'NOT_EXECUTED' } : { kind: 'commit-unknown' });
      }),
    );
  });

  it('"not executed" only before COMMIT was sent, and then always for lease loss, stop, infrastructure (NOT_EXECUTED) and spent time (EXPIRED)', () => {
    fc.assert(
      fc.property(phase, stop, (p, s) => {
        const answer = decideAnswer(p, s);
        if (answer.kind === 'not-executed' && s.kind !== 'not-committed') expect(['not-started', 'running']).toContain(p);
        if (answer.kind === 'not-executed') expect(p).not.toBe('committed');
        if (p === 'not-started' || p === 'running') {
          if (s.kind === 'expired') expect(answer).toEqual({ kind: 'not-executed', error: 'EXPIRED' });
          if (s.kind === 'lease-lost' || s.kind === 'stopped' || s.kind === 'idle' || s.kind === 'infrastructure') expect(answer).toEqual({ kind: 'not-executed', error: 'NOT_EXECUTED' });
        }
      }),
    );
  });

  it('a JSON-RPC error only for the handler’s own error while it ran; RpcError as given, anything else -32603 without its message', () => {
    fc.assert(
      fc.property(phase, stop, (p, s) => {
        const answer = decideAnswer(p, s);
        if (answer.kind !== 'rpc-error') return;
        expect(p).toBe('running');
        expect(s.kind).toBe('handler-error');
        const error = (s as { error: unknown }).error;
        if (error instanceof RpcError) {
          expect(answer.code).toBe(error.code);
          expect(answer.message).toBe(error.message);
          expect(answer.data).toEqual(error.data);
        } else {
          expect(answer).toEqual({ kind: 'rpc-error', code: -32603, message: 'internal error' });
        }
      }),
    );
  });
});

describe('isInfrastructureFailure', () => {
  it("every lease-module error (any LeaseError subclass, a new typed store error included) is the infrastructure's, also when wrapped", () => {
    class StoreBusyError extends LeaseError {}
    const leaseErrors = fc.constantFrom(
      new FencingError('fenced', 'x', 1, 2),
      new LeaseLostError('lost', 1, 'self-fenced'),
      new LeaseTimeoutError('renewal', 100),
      new StoreBusyError('database is locked'),
    );
    fc.assert(
      fc.property(leaseErrors, fc.nat({ max: 3 }), (inner, depth) => {
        let error: unknown = inner;
        for (let i = 0; i < depth; i += 1) error = i % 2 === 0 ? new Error('wrapped', { cause: error }) : new AggregateError([new Error('x'), error]);
        expect(isInfrastructureFailure(error)).toBe(true);
      }),
    );
  });

  it('driver and connection failures are; application SQL errors and plain handler errors are not', () => {
    const infra = [
      Object.assign(new Error('terminating connection due to administrator command'), { code: '57P01' }),
      Object.assign(new Error('canceling statement due to lock timeout'), { code: '55P03' }),
      Object.assign(new Error('deadlock detected'), { code: '40P01' }),
      Object.assign(new Error('connection failure'), { code: '08006' }),
      new Error('Connection terminated unexpectedly'),
      Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
      Object.assign(new Error('Lock wait timeout exceeded'), { errno: 1205, code: 'ER_LOCK_WAIT_TIMEOUT' }),
      Object.assign(new Error('Connection lost'), { fatal: true, code: 'PROTOCOL_CONNECTION_LOST' }),
      Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' }),
      new AggregateError([Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })]),
    ];
    for (const error of infra) expect({ error: String(error), infra: isInfrastructureFailure(error) }).toEqual({ error: String(error), infra: true });
    const application = [
      Object.assign(new Error('syntax error at or near "SELEC"'), { code: '42601' }),
      Object.assign(new Error('duplicate key value violates unique constraint'), { code: '23505' }),
      Object.assign(new Error('Duplicate entry'), { errno: 1062, code: 'ER_DUP_ENTRY' }),
      Object.assign(new Error('UNIQUE constraint failed'), { code: 'SQLITE_CONSTRAINT_UNIQUE' }),
      new Error('insufficient funds'),
      new TypeError("Cannot read properties of undefined (reading 'x')"),
      new RpcError(42, 'no funds'),
    ];
    for (const error of application) expect({ error: String(error), infra: isInfrastructureFailure(error) }).toEqual({ error: String(error), infra: false });
    fc.assert(fc.property(fc.anything(), (value) => typeof isInfrastructureFailure(value) === 'boolean'));
  });
});

describe('NodeAnswers.outcome', () => {
  it('every 503 NOT_EXECUTED/EXPIRED and 500 COMMIT_UNKNOWN carries X-Hotcold-Node and X-Hotcold-Epoch; a JSON-RPC answer is 200/204', async () => {
    const { NodeAnswers } = await import('../../src/node/node-answers.js');
    const outcome = fc.oneof(
      fc.jsonValue().map((result) => ({ kind: 'result' as const, result })),
      fc.jsonValue().map((result) => ({ kind: 'stored' as const, result })),
      fc.constantFrom('params' as const, 'caller' as const).map((reason) => ({ kind: 'conflict' as const, reason })),
      fc.integer().map((code) => ({ kind: 'rpc-error' as const, code, message: 'm' })),
      fc.constantFrom('NOT_EXECUTED' as const, 'EXPIRED' as const).map((error) => ({ kind: 'not-executed' as const, error, reason: 'r' })),
      fc.constant({ kind: 'commit-unknown' as const, reason: 'r' }),
    );
    fc.assert(
      fc.property(outcome, fc.nat(), fc.boolean(), fc.boolean(), (o, token, notification, dedup) => {
        const status = { servedToken: undefined, wireStatus: () => 'active' } as never;
        const answers = new NodeAnswers('m1', dedup, 1, status);
        let written: { code: number; headers: Record<string, string>; body: string } | undefined;
        const res = {
          headersSent: false,
          destroyed: false,
          writeHead(code: number, headers: Record<string, string>) {
            written = { code, headers, body: '' };
          },
          end(text?: string) {
            if (written && text) written.body = text;
          },
        };
        answers.outcome(res as never, token, 1, notification, o);
        expect(written).toBeDefined();
        const w = written!;
        expect(w.headers['x-hotcold-node']).toBe('m1');
        expect(w.headers['x-hotcold-epoch']).toBe(String(token));
        if (o.kind === 'not-executed') {
          expect(w.code).toBe(503);
          expect(JSON.parse(w.body)).toMatchObject({ error: o.error, node: 'm1', epoch: token });
        } else if (o.kind === 'commit-unknown') {
          expect(w.code).toBe(500);
          expect(JSON.parse(w.body)).toMatchObject({ error: 'COMMIT_UNKNOWN', node: 'm1', epoch: token });
        } else {
          expect(w.code).toBe(notification ? 204 : 200);
        }
      }),
    );
  });
});

describe('certifiesNotCommitted', () => {
  it('only a LeaseError that says committed === false certifies it', async () => {
    const { certifiesNotCommitted } = await import('../../src/node/failure-kind.js');
    class TransientStore extends LeaseError {
      readonly committed = false;
    }
    expect(certifiesNotCommitted(new TransientStore('busy'))).toBe(true);
    expect(certifiesNotCommitted(new LeaseTimeoutError('renewal', 5))).toBe(false);
    expect(certifiesNotCommitted(Object.assign(new Error('x'), { committed: false }))).toBe(false);
    fc.assert(fc.property(fc.anything(), (value) => certifiesNotCommitted(value) === false));
  });
});
