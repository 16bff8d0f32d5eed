/**
 * Option validation at construction: every bad option is a ConfigurationError naming its field,
 * and random garbage never crashes the constructor (fast-check).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigurationError, createClient, createMemoryTransport, type ClientOptions } from 'hotcold';

const URL = 'http://127.0.0.1:9';

function fieldOf(options: unknown): string | undefined {
  try {
    const client = createClient(options as ClientOptions);
    void client.close();
    return undefined;
  } catch (error) {
    if (error instanceof ConfigurationError) return error.field;
    throw error;
  }
}

describe('createClient options', () => {
  it.each([
    [{}, 'url'],
    [{ url: '' }, 'url'],
    [{ url: 'ftp://host' }, 'url'],
    [{ url: 'not a url' }, 'url'],
    [{ url: [] }, 'url'],
    [{ url: [URL, 'nope'] }, 'url[1]'],
    [{ url: [URL, URL] }, 'url[1]'],
    [{ url: URL, timeoutMs: Number.NaN }, 'timeoutMs'],
    [{ url: URL, timeoutMs: -1 }, 'timeoutMs'],
    [{ url: URL, deadlineMs: Number.POSITIVE_INFINITY }, 'deadlineMs'],
    [{ url: URL, retry: { maxAttempts: 0 } }, 'retry.maxAttempts'],
    [{ url: URL, retry: { jitter: 'fuzzy' } }, 'retry.jitter'],
    [{ url: URL, retry: { minDelayMs: 500, maxDelayMs: 100 } }, 'retry.minDelayMs'],
    [{ url: URL, retry: { maxAttempt: 3 } }, 'retry.maxAttempt'],
    [{ url: URL, budget: { ratio: 1.5 } }, 'budget.ratio'],
    [{ url: URL, budget: { ratio: -0.1 } }, 'budget.ratio'],
    [{ url: URL, breaker: { errorThresholdPercentage: 101 } }, 'breaker.errorThresholdPercentage'],
    [{ url: URL, breaker: { whenOpen: 'maybe' } }, 'breaker.whenOpen'],
    [{ url: URL, methods: { transfer: { idempotent: 'no' } } }, 'methods.transfer.idempotent'],
    [{ url: URL, methods: { transfer: { retry: { maxAttempts: 1.5 } } } }, 'methods.transfer.retry.maxAttempts'],
    [{ url: URL, methods: { transfer: { retryOnCodes: ['x'] } } }, 'methods.transfer.retryOnCodes'],
    [{ url: URL, methods: { transfer: { idempotant: true } } }, 'methods.transfer.idempotant'],
    [{ url: URL, maxPending: 0 }, 'maxPending'],
    [{ url: URL, maxReconnectAttempts: 0 }, 'maxReconnectAttempts'],
    [{ url: URL, reconnect: { minDelayMs: 100, maxDelayMs: 10 } }, 'reconnect.maxDelayMs'],
    [{ url: URL, auth: { username: 'a' } }, 'auth.password'],
    [{ url: URL, auth: { bearer: '' } }, 'auth.bearer'],
    [{ url: URL, headers: { 'X-Ok': 'a\r\nInjected: 1' } }, 'headers.X-Ok'],
    [{ url: URL, rpcPath: 'rpc' }, 'rpcPath'],
    [{ url: URL, maxResponseBytes: 0 }, 'maxResponseBytes'],
    [{ url: URL, axios: {} }, 'axios'],
    [{ url: URL, transport: { send: 1 } }, 'transport'],
    [{ url: URL, onDisconnect: 'call me' }, 'onDisconnect'],
    [{ url: URL, serverDeduplicates: 1 }, 'serverDeduplicates'],
    [{ url: URL, retries: 3 }, 'retries'],
    [{ url: URL, transport: createMemoryTransport(), auth: { bearer: 'abcd' } }, 'auth'],
  ])('%j → ConfigurationError on %s', (options, field) => {
    expect(fieldOf(options)).toBe(field);
  });

  it('never echoes a secret value in the message', () => {
    try {
      createClient({ url: URL, headers: { Authorization: 'Bearer abc\nsecret-value-123' } });
      expect.unreachable();
    } catch (error) {
      expect(String((error as Error).message)).not.toContain('secret-value-123');
    }
  });

  it('accepts the DESIGN §4 example', async () => {
    const client = createClient({
      url: 'http://balancer:8080',
      retry: { maxAttempts: 8, minDelayMs: 50, maxDelayMs: 2000, jitter: 'full' },
      breaker: { errorThresholdPercentage: 50, resetTimeoutMs: 1000, volumeThreshold: 5 },
      budget: { ratio: 0.2, minRetriesPerSecond: 10 },
      timeoutMs: 5000,
      deadlineMs: 30000,
      methods: { transfer: { idempotent: false }, balance: { idempotent: true } },
    });
    await client.close();
    const pool = createClient({ url: ['http://a:8080', 'http://b:8080/'], budget: false, breaker: false, maxReconnectAttempts: Number.POSITIVE_INFINITY });
    await pool.close();
  });

  it('random garbage options: a ConfigurationError or a working client, never anything else', async () => {
    const anything = fc.anything({ maxDepth: 2, withNullPrototype: true, withBoxedValues: true });
    const fieldValue = fc.oneof(
      anything,
      fc.constantFrom(0, -1, 1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 40, '', 'x', 'full', true, false, null, [], {}),
    );
    const section = fc.dictionary(
      fc.constantFrom('maxAttempts', 'minDelayMs', 'maxDelayMs', 'jitter', 'ratio', 'minRetriesPerSecond', 'ttlMs', 'volumeThreshold', 'resetTimeoutMs', 'whenOpen', 'idempotent', 'probeTimeoutMs', 'bogus'),
      fieldValue,
      { maxKeys: 4 },
    );
    const options = fc.record(
      {
        url: fc.oneof(fc.constant(URL), fc.constant([URL, 'http://127.0.0.1:10']), fc.webUrl(), anything),
        retry: fc.oneof(section, anything),
        breaker: fc.oneof(section, fc.constant(false), anything),
        budget: fc.oneof(section, fc.constant(false), anything),
        timeoutMs: fieldValue,
        deadlineMs: fieldValue,
        maxPending: fieldValue,
        maxReconnectAttempts: fieldValue,
        reconnect: fc.oneof(section, anything),
        methods: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.oneof(section, anything), { maxKeys: 3 }), anything),
        headers: fc.oneof(fc.dictionary(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 }), { maxKeys: 3 }), anything),
        auth: fc.oneof(fc.record({ bearer: fc.string() }), fc.record({ username: fc.string(), password: fc.string() }), anything),
        serverDeduplicates: fieldValue,
        rpcPath: fc.oneof(fc.constant('/rpc'), fc.string({ maxLength: 6 })),
      },
      { requiredKeys: [] },
    );
    await fc.assert(
      fc.asyncProperty(options, async (input) => {
        let client;
        try {
          const { auth: _auth, headers: _headers, ...rest } = input as Record<string, unknown>;
          client = createClient({ ...rest, transport: createMemoryTransport() } as ClientOptions);
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigurationError);
          expect((error as ConfigurationError).field.length).toBeGreaterThan(0);
          return;
        }
        // What was accepted must work.
        await expect(client.call('ping', {})).resolves.toBeDefined();
        await client.close();
        // Credentials and headers go to the axios transport: check those on a real one.
        const { auth, headers } = input as Record<string, unknown>;
        try {
          await createClient({ url: URL, auth, headers } as ClientOptions).close();
        } catch (error) {
          expect(error).toBeInstanceOf(ConfigurationError);
        }
      }),
      { numRuns: 300 },
    );
  });
});
