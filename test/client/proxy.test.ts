/** `client.proxy<Api>()`: typed calls through a Proxy, not thenable. */
import { afterAll, describe, expect, expectTypeOf, it } from 'vitest';
import { createClient, createMemoryTransport, type CallOptions } from 'hotcold';

interface BankApi {
  balance(params: { account: string }): { account: string; amount: number };
  transfer(params: { from: string; to: string; amount: number }): Promise<{ ref: string }>;
  ping(): 'pong';
}

const client = createClient({
  url: 'http://127.0.0.1:9',
  transport: createMemoryTransport({
    handler: (request) => {
      const result =
        request.method === 'balance'
          ? { account: (request.params as { account: string }).account, amount: 10 }
          : request.method === 'transfer'
            ? { ref: request.idempotencyKey }
            : 'pong';
      return { result, status: 200, node: 'm', epoch: 1, dedup: false };
    },
  }),
});

afterAll(() => client.close());

describe('client.proxy', () => {
  it('is typed from the API interface', () => {
    const api = client.proxy<BankApi>();
    expectTypeOf(api.balance).parameters.toEqualTypeOf<[params: { account: string }, options?: CallOptions]>();
    expectTypeOf(api.balance).returns.toEqualTypeOf<Promise<{ account: string; amount: number }>>();
    // A method that already returns a promise is not double-wrapped.
    expectTypeOf(api.transfer).returns.toEqualTypeOf<Promise<{ ref: string }>>();
    expectTypeOf(api.ping).returns.toEqualTypeOf<Promise<'pong'>>();
    // @ts-expect-error — wrong parameter type
    void (() => api.balance({ account: 1 }));
    // @ts-expect-error — not a method of the API
    void (() => api.withdraw({}));
  });

  it('calls the server method of the same name', async () => {
    const api = client.proxy<BankApi>();
    await expect(api.balance({ account: 'A' })).resolves.toEqual({ account: 'A', amount: 10 });
    await expect(api.ping()).resolves.toBe('pong');
    const { ref } = await api.transfer({ from: 'A', to: 'B', amount: 1 }, { idempotencyKey: 'my-client-id-1' });
    expect(ref).toBe('my-client-id-1');
  });

  it('is not thenable, so awaiting it does not call a remote "then"', async () => {
    const api = client.proxy<BankApi>();
    expect((api as unknown as { then?: unknown }).then).toBeUndefined();
    const awaited = await Promise.resolve(api);
    expect(awaited).toBe(api);
    expect(typeof api.balance).toBe('function');
    expect(api.balance).toBe(api.balance); // stable per name
  });
});
