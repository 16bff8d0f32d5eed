/**
 * classify() is total and conservative for every input; parseRetryAfter never throws; and random
 * answer bodies sent by a real server always end in a result or an RPCException.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RPCException } from 'hotcold';
import { startFaultServer, type FaultServer } from 'hotcold/testing';
import {
  classify,
  createAxiosTransport,
  parseRetryAfter,
  type AnswerHeaders,
  type AttemptFacts,
  type AxiosTransport,
} from '../../src/transport/index.js';
import { callOf } from './support.js';

const idArb = fc.oneof(fc.integer(), fc.string({ maxLength: 8 }));

const headersArb: fc.Arbitrary<AnswerHeaders> = fc.record(
  {
    node: fc.option(fc.oneof(fc.constant('node-a'), fc.string()), { nil: undefined }),
    epoch: fc.option(fc.oneof(fc.nat().map(String), fc.string()), { nil: undefined }),
    retryAfter: fc.option(
      fc.oneof(fc.nat(100_000).map(String), fc.date().map((d) => (Number.isNaN(d.getTime()) ? 'x' : d.toUTCString())), fc.string()),
      { nil: undefined },
    ),
    dedup: fc.option(fc.constantFrom('1', '0', ''), { nil: undefined }),
    notForwarded: fc.option(fc.oneof(fc.constantFrom('1', '0', '', 'true', ' 1 '), fc.string()), { nil: undefined }),
  },
  { requiredKeys: [] },
);

/** Bodies that are mostly almost-JSON-RPC: the interesting edge is near the valid shape. */
function bodyArb(id: fc.Arbitrary<unknown>): fc.Arbitrary<string> {
  const rpcLike = fc.record(
    {
      jsonrpc: fc.constantFrom('2.0', '1.0', 2),
      id: fc.oneof(id, fc.constant(null), fc.anything()),
      result: fc.anything(),
      error: fc.oneof(
        fc.record({ code: fc.oneof(fc.integer(), fc.double(), fc.string()), message: fc.oneof(fc.string(), fc.nat()), data: fc.anything() }, { requiredKeys: [] }),
        fc.anything(),
      ),
    },
    { requiredKeys: [] },
  );
  return fc.oneof(
    fc.string(),
    fc.json(),
    rpcLike.map((o) => JSON.stringify(o)),
    fc.constantFrom('NOT_ACTIVE', 'NOT_EXECUTED', 'EXPIRED', 'COMMIT_UNKNOWN', 'OVERLOADED', 'not_active').map((e) => JSON.stringify({ error: e })),
    fc.constant('upstream connect error or disconnect/reset before headers. reset reason: connection termination'),
    fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
  );
}

const factsArb: fc.Arbitrary<{ facts: AttemptFacts; id: string | number }> = idArb.chain((id) =>
  fc.oneof(
    fc.record({
      facts: fc.record({
        kind: fc.constant('answer' as const),
        status: fc.oneof(
          fc.integer({ min: -5, max: 1000 }),
          fc.constantFrom(200, 401, 403, 429, 500, 502, 503, 504),
          fc.integer({ min: 500, max: 599 }),
        ),
        headers: headersArb,
        body: bodyArb(fc.constant(id)),
      }),
      id: fc.constant(id),
    }),
    fc.record({
      facts: fc.record({
        kind: fc.constant('failure' as const),
        reason: fc.constantFrom('timeout', 'aborted', 'network', 'too-large', 'unserializable'),
        written: fc.boolean(),
        responseStarted: fc.boolean(),
        status: fc.option(fc.integer({ min: 100, max: 599 }), { nil: undefined }),
        headers: fc.option(headersArb, { nil: undefined }),
        cause: fc.anything(),
      }),
      id: fc.constant(id),
    }),
  ),
);

describe('classify()', () => {
  it('is total: a result or an RPCException, never a throw', () => {
    fc.assert(
      fc.property(factsArb, ({ facts, id }) => {
        const out = classify(facts, { method: 'm', id, attempt: 1 });
        if (out.ok) {
          expect(facts.kind).toBe('answer');
          if (facts.kind === 'answer') expect(facts.status >= 200 && facts.status < 300).toBe(true);
        } else {
          expect(out.error).toBeInstanceOf(RPCException);
          expect(out.error.method).toBe('m');
          expect(typeof out.error.mayHaveExecuted).toBe('boolean');
        }
      }),
      { numRuns: 500 },
    );
  });

  it('says "not executed" only where the table allows it', () => {
    fc.assert(
      fc.property(factsArb, ({ facts, id }) => {
        const out = classify(facts, { method: 'm', id });
        if (out.ok || out.error.mayHaveExecuted) return;
        if (facts.kind === 'answer') {
          // Only refusals: auth, back-pressure, a node's own 503, a marked balancer 5xx.
          expect(facts.status === 401 || facts.status === 403 || facts.status === 429 || (facts.status >= 500 && facts.status <= 599)).toBe(true);
        } else {
          expect(facts.written || facts.responseStarted).toBe(false);
          expect(['timeout', 'aborted', 'network', 'unserializable']).toContain(facts.reason);
        }
      }),
      { numRuns: 500 },
    );
  });

  // DESIGN §1/§2, issue 8 §1: "not executed" needs evidence. Stated here independently of the
  // classifier: a refusal (401/403/429), a node's own 503 NOT_ACTIVE/NOT_EXECUTED/EXPIRED (node
  // headers), a 5xx the balancer marked X-Hotcold-Not-Forwarded: 1, or a request never written.
  it('for every answer or failure WITHOUT evidence, mayHaveExecuted is true', () => {
    const evidence = (facts: AttemptFacts): boolean => {
      if (facts.kind === 'failure') return !facts.written && !facts.responseStarted;
      const { status, headers, body } = facts;
      if (status === 401 || status === 403 || status === 429) return true;
      const hasNode = typeof headers.node === 'string' && headers.node.length > 0;
      if (status === 503 && hasNode) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(body);
        } catch {
          return false;
        }
        const error = (parsed as { error?: unknown } | null)?.error;
        return error === 'NOT_ACTIVE' || error === 'NOT_EXECUTED' || error === 'EXPIRED';
      }
      return status >= 500 && status <= 599 && !hasNode && headers.notForwarded?.trim() === '1';
    };
    fc.assert(
      fc.property(factsArb, ({ facts, id }) => {
        const out = classify(facts, { method: 'm', id });
        if (out.ok || evidence(facts)) return;
        expect(out.error.mayHaveExecuted).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('every header-less, unmarked 5xx is "maybe", whatever its body and Retry-After', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 500, max: 599 }),
        bodyArb(fc.constant(1)),
        fc.option(fc.string(), { nil: undefined }),
        fc.option(fc.constantFrom('0', '', 'yes', '2'), { nil: undefined }),
        (status, body, retryAfter, notForwarded) => {
          const out = classify({ kind: 'answer', status, headers: { retryAfter, notForwarded }, body }, { method: 'm', id: 1 });
          expect(out.ok).toBe(false);
          if (!out.ok) expect(out.error.mayHaveExecuted).toBe(true);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('after the request was written, a failure is always "maybe" (an abort too)', () => {
    fc.assert(
      fc.property(
        factsArb.filter(({ facts }) => facts.kind === 'failure' && facts.reason !== 'unserializable' && facts.written),
        ({ facts, id }) => {
          const out = classify(facts, { method: 'm', id });
          expect(out.ok).toBe(false);
          if (!out.ok) expect(out.error.mayHaveExecuted).toBe(true);
        },
      ),
    );
  });

  it('a node NOT_ACTIVE answer is a connection failure with Retry-After in ms', () => {
    fc.assert(
      fc.property(fc.nat(86_400), fc.string({ minLength: 1 }), (seconds, node) => {
        const out = classify(
          {
            kind: 'answer',
            status: 503,
            headers: { node, epoch: '4', retryAfter: String(seconds) },
            body: '{"error":"NOT_ACTIVE","status":"standby"}',
          },
          { method: 'm', id: 1 },
        );
        expect(out.ok).toBe(false);
        if (!out.ok) {
          expect(out.error.kind).toBe('connection-failure');
          expect((out.error as { retryAfterMs?: number }).retryAfterMs).toBe(seconds * 1000);
          expect(out.error.node).toBe(node);
          expect(out.error.epoch).toBe(4);
        }
      }),
    );
  });
});

describe('parseRetryAfter()', () => {
  it('reads delay-seconds and HTTP dates, and never throws', () => {
    const now = Date.UTC(2030, 0, 1);
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(new Date(now + 5000).toUTCString(), now)).toBe(5000);
    expect(parseRetryAfter(new Date(now - 5000).toUTCString(), now)).toBe(0);
    expect(parseRetryAfter('-1', now)).toBeUndefined();
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
    fc.assert(
      fc.property(fc.string(), (s) => {
        const ms = parseRetryAfter(s, now);
        expect(ms === undefined || (Number.isFinite(ms) && ms >= 0)).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });
});

describe('fuzzed answer bodies over a real socket', () => {
  let server: FaultServer;
  let transport: AxiosTransport;
  beforeAll(async () => {
    server = await startFaultServer({ maxRecords: 100 });
    transport = createAxiosTransport({ maxResponseBytes: 4096 });
  });
  afterAll(async () => {
    await transport.close();
    await server.close();
  });

  it('always end in a result or an RPCException, within the attempt timeout', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(bodyArb(fc.nat()), fc.uint8Array({ maxLength: 256 })),
          fc.constantFrom(200, 200, 200, 201, 204, 400, 429, 500, 503),
          fc.boolean(),
          async (body, status, nodeHeaders) => {
            server.enqueue({ mode: 'raw', status: status === 204 ? 200 : status, body, nodeHeaders });
            const call = callOf(server, { timeoutMs: 2000 });
            try {
              const response = await transport.send(call);
              expect(response.status).toBeGreaterThanOrEqual(200);
            } catch (error) {
              expect(error).toBeInstanceOf(RPCException);
            }
          },
        ),
        { numRuns: 150 },
      );
      await new Promise((r) => setTimeout(r, 20));
      expect(unhandled).toEqual([]);
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
  });
});
