/**
 * The attempts in flight share one timer and one listener per signal (src/transport/inflight.ts)
 * and one 'finish' listener function: each attempt must still end at its own timeout, on its own
 * signal, and be judged "written" from its own request only.
 */
import { getEventListeners } from 'node:events';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CallAbortedException, RPCException } from 'hotcold';
import { startFaultServer, type FaultServer } from 'hotcold/testing';
import { createAxiosTransport } from '../../src/transport/index.js';
import { callOf } from './support.js';

let stall: FaultServer;
beforeAll(async () => {
  stall = await startFaultServer({ node: 'n1', epoch: 1, mode: 'stall' });
});
afterAll(async () => {
  await stall.close();
});

async function failure(promise: Promise<unknown>): Promise<RPCException> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(RPCException);
    return error as RPCException;
  }
  throw new Error('expected the attempt to fail');
}

describe('one timer for every attempt', () => {
  it('a later attempt with a shorter timeout ends at its own timeout, not the earlier one’s', async () => {
    const transport = createAxiosTransport();
    const long = transport.send(callOf(stall, { timeoutMs: 60_000 }));
    long.catch(() => undefined);
    const started = performance.now();
    const short = await failure(transport.send(callOf(stall, { timeoutMs: 150 })));
    const elapsed = performance.now() - started;
    expect(short.kind).toBe('unknown-outcome');
    expect(short.message).toMatch(/time/i);
    // Never before its timeout; the bound above is generous (a loaded machine), far below 60 s.
    expect(elapsed).toBeGreaterThanOrEqual(149);
    expect(elapsed).toBeLessThan(20_000);
    await transport.close();
    await expect(long).rejects.toMatchObject({ kind: 'client-closed' });
  });

  it('attempts with mixed timeouts each end in the order of their own timeouts', async () => {
    const transport = createAxiosTransport();
    const timeouts = [400, 100, 300, 200, 100, 400];
    const ended: number[] = [];
    await Promise.all(
      timeouts.map((timeoutMs, i) =>
        failure(transport.send(callOf(stall, { timeoutMs }))).then(() => ended.push(i)),
      ),
    );
    const endedTimeouts = ended.map((i) => timeouts[i] as number);
    expect(endedTimeouts).toEqual([...endedTimeouts].sort((a, b) => a - b));
    await transport.close();
  });

  it('a timeout above 2^31−1 ms does not fire early', async () => {
    const transport = createAxiosTransport();
    const controller = new AbortController();
    let settled = false;
    const call = transport.send(callOf(stall, { timeoutMs: 3e9, signal: controller.signal })).finally(() => {
      settled = true;
    });
    call.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 300));
    expect(settled).toBe(false);
    controller.abort(new Error('done waiting'));
    await expect(call).rejects.toBeInstanceOf(CallAbortedException);
    await transport.close();
  });
});

describe('one listener per signal', () => {
  it('aborting a shared signal ends every attempt on it, and only those', async () => {
    const transport = createAxiosTransport();
    const shared = new AbortController();
    const own = new AbortController();
    const onShared = Array.from({ length: 5 }, () => transport.send(callOf(stall, { signal: shared.signal })));
    const onOwn = transport.send(callOf(stall, { signal: own.signal, timeoutMs: 60_000 }));
    let ownSettled = false;
    void onOwn.catch(() => undefined).finally(() => {
      ownSettled = true;
    });
    // One listener for the five attempts sharing the signal.
    await new Promise((r) => setTimeout(r, 50));
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(1);
    shared.abort(new Error('caller gave up'));
    for (const p of onShared) await expect(p).rejects.toBeInstanceOf(CallAbortedException);
    await new Promise((r) => setTimeout(r, 50));
    expect(ownSettled).toBe(false);
    expect(getEventListeners(shared.signal, 'abort')).toHaveLength(0);
    own.abort(new Error('also done'));
    await expect(onOwn).rejects.toBeInstanceOf(CallAbortedException);
    expect(getEventListeners(own.signal, 'abort')).toHaveLength(0);
    await transport.close();
  });

  it('a signal keeps no listener once its attempts have ended, and close() removes the rest', async () => {
    const ok = await startFaultServer({ node: 'n1', epoch: 1 });
    const transport = createAxiosTransport();
    const signal = new AbortController().signal;
    await Promise.all(Array.from({ length: 8 }, () => transport.send(callOf(ok, { signal }))));
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    const pending = transport.send(callOf(stall, { signal }));
    pending.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    expect(getEventListeners(signal, 'abort')).toHaveLength(1);
    await transport.close();
    await expect(pending).rejects.toMatchObject({ kind: 'client-closed' });
    expect(getEventListeners(signal, 'abort')).toHaveLength(0);
    await ok.close();
  });
});

describe('"written" is judged per request', () => {
  /**
   * A server that reads a request's head and then cuts the connection: at once when the body is
   * large (the client is still writing it: not fully written, so not executed), after reading
   * the whole body when it is small (fully written, the outcome is unknown).
   */
  async function startCutter(): Promise<{ url: string; close(): Promise<void> }> {
    const sockets = new Set<net.Socket>();
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
      socket.on('error', () => undefined);
      let buffered = Buffer.alloc(0);
      socket.on('data', (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        const end = buffered.indexOf('\r\n\r\n');
        if (end < 0) return;
        const length = Number(/content-length:\s*(\d+)/i.exec(buffered.subarray(0, end).toString('latin1'))?.[1] ?? 0);
        if (length > 1_000_000 || buffered.length >= end + 4 + length) socket.destroy();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return {
      url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      close: () =>
        new Promise<void>((resolve) => {
          for (const s of sockets) s.destroy();
          server.close(() => resolve());
        }),
    };
  }

  it('concurrent large and small requests each get their own verdict', async () => {
    const cutter = await startCutter();
    const transport = createAxiosTransport();
    const big = 'x'.repeat(16 * 1024 * 1024);
    const kinds = ['big', 'small', 'small', 'big', 'small', 'big', 'small', 'small'] as const;
    const target = { url: cutter.url } as FaultServer;
    const results = await Promise.all(
      kinds.map((kind) => failure(transport.send(callOf(target, { params: kind === 'big' ? { blob: big } : { n: 1 } })))),
    );
    results.forEach((error, i) => {
      if (kinds[i] === 'big') {
        expect({ i, kind: error.kind, may: error.mayHaveExecuted }).toEqual({ i, kind: 'connection-failure', may: false });
      } else {
        expect({ i, kind: error.kind, may: error.mayHaveExecuted }).toEqual({ i, kind: 'unknown-outcome', may: true });
      }
    });
    await transport.close();
    await cutter.close();
  }, 60_000);
});
