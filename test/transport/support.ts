/** Shared helpers for the transport suites: one attempt against the fault server, and truth checks. */
import { expect } from 'vitest';
import { RPCException } from 'hotcold';
import type { FaultRequestRecord, FaultServer } from 'hotcold/testing';
import type { AxiosTransport } from '../../src/transport/index.js';
import type { TransportRequest, TransportResponse } from '../../src/transport/types.js';

let nextId = 0;

export function callOf(server: FaultServer, overrides: Partial<TransportRequest> = {}): TransportRequest {
  const id = ++nextId;
  return {
    baseUrl: server.url,
    method: 'transfer',
    params: { amount: id },
    id,
    idempotencyKey: `key-${id}-${Math.random().toString(36).slice(2)}`,
    attempt: 1,
    timeoutMs: 5000,
    ...overrides,
  };
}

export interface Outcome {
  response?: TransportResponse;
  error?: RPCException;
  elapsedMs: number;
  idempotencyKey: string;
  /** The fault server's record of this call, matched by idempotency key. */
  record: FaultRequestRecord | undefined;
}

export async function attempt(
  transport: AxiosTransport,
  server: FaultServer,
  overrides: Partial<TransportRequest> = {},
): Promise<Outcome> {
  const call = callOf(server, overrides);
  const started = performance.now();
  try {
    const response = await transport.send(call);
    return { response, elapsedMs: performance.now() - started, idempotencyKey: call.idempotencyKey, record: recordOf(server, call.idempotencyKey) };
  } catch (error) {
    const elapsedMs = performance.now() - started;
    expect(error).toBeInstanceOf(RPCException);
    // Let the server finish its bookkeeping for requests it was still reading.
    await new Promise((r) => setTimeout(r, 10));
    return { error: error as RPCException, elapsedMs, idempotencyKey: call.idempotencyKey, record: recordOf(server, call.idempotencyKey) };
  }
}

export function recordOf(server: FaultServer, key: string): FaultRequestRecord | undefined {
  return server.requests.find((r) => r.idempotencyKey === key);
}

/**
 * The promise `mayHaveExecuted: false` makes is checked against what the server really did. The
 * reverse ("maybe" when it did not run) is allowed: that is being conservative.
 */
export function expectTruthful(outcome: Outcome): void {
  if (outcome.error !== undefined && !outcome.error.mayHaveExecuted) {
    expect(outcome.record?.executed ?? false).toBe(false);
  }
}
