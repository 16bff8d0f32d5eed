/**
 * A failed health probe is logged at debug with why it failed. Its error text comes from the
 * transport and the server, so it may quote the client's own credentials back (a password
 * with no "Bearer" or "key=" around it, which no pattern recognises): the record must be bound
 * to the client's literal secrets like every error, event and callback is.
 */
import { afterEach, expect, it } from 'vitest';
import { ConnectionFailureException, createClient, type HotcoldClient, type Logger, type Transport } from 'hotcold';
import { FAST_RECONNECT, FAST_RETRY } from './helpers.js';

let client: HotcoldClient | undefined;
afterEach(async () => {
  await client?.close();
  client = undefined;
});

const SECRET = 'q8ZpL2vRt7Kx';

it("a failed probe's log record does not carry a secret the server or transport quoted back", async () => {
  const records: string[] = [];
  const sink = (fields: unknown, message?: string): void => void records.push(JSON.stringify([fields, message]));
  const logger: Logger = { debug: sink, info: sink, warn: sink, error: sink };
  let probes = 0;
  const transport: Transport = {
    send: () => Promise.reject(new ConnectionFailureException('connection refused', { mayHaveExecuted: false })),
    health: () => {
      probes++;
      return Promise.reject(new Error(`upstream rejected the probe: password ${SECRET} is not valid here`));
    },
    close: async () => undefined,
  };
  client = createClient({
    // The password in the URL is one of the client's literal secrets (the transport is the user's).
    url: `http://svc:${SECRET}@127.0.0.1:9`,
    transport,
    logger,
    retry: FAST_RETRY,
    reconnect: FAST_RECONNECT,
    maxReconnectAttempts: 3,
    deadlineMs: 2_000,
  });
  await client.call('ping').catch(() => undefined);
  expect(probes).toBeGreaterThan(0);
  const probeRecords = records.filter((r) => r.includes('health probe failed'));
  expect(probeRecords.length).toBeGreaterThan(0);
  expect(probeRecords.join('\n')).toContain('upstream rejected the probe');
  expect(records.join('\n')).not.toContain(SECRET);
});
