/**
 * A node's events carry no credential the store was configured with. The node's event texts
 * (`handler-error`, `rolled-back`, `commit-unknown`, `cleanup-failed`, `acquire-failed`) were
 * redacted by pattern only (a password in a URL, `password=…`), not of the store's literal
 * secrets as the lease's events and every log record are: an error text quoting the connection
 * string's password on its own reached `node.events$` subscribers as it was.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLease, postgresStore } from 'hotcold/lease';
import { createNode, type NodeEvent } from 'hotcold/node';
import { databaseAvailable, PG_URL } from '../support/services.js';
import { rawRpc } from './raw-http.js';
import { fixture, until, uniq, type Fixture } from './support.js';

const withPostgres = await databaseAvailable('postgres');
const PASSWORD = 'Pw-Hunter2-9f3kQ';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.cleanup();
  f = undefined;
});

describe.runIf(withPostgres)('node events and the store password', () => {
  it('a handler or driver error quoting the password reaches events$ and the log scrubbed', async () => {
    f = fixture();
    // The local server trusts loopback: any password connects, and the store registers it.
    const url = new URL(PG_URL);
    url.password = PASSWORD;
    const store = postgresStore(url.toString(), { table: `l_${uniq()}` });
    f.stores.push(store);
    const lease = createLease({ store, machineName: 'alpha', updateInterval: 200, waitInterval: 2000 });
    f.leases.push(lease);
    const logged: string[] = [];
    const sink = (obj: object, msg?: string): void => {
      logged.push(`${JSON.stringify(obj)} ${msg ?? ''}`);
    };
    const node = createNode({
      lease,
      port: 0,
      dedup: false,
      feeds: false,
      logger: { debug: sink, info: sink, warn: sink, error: sink },
      handlers: {
        leak: () => {
          throw new Error(`the ledger refused the login of postgres with ${PASSWORD}`);
        },
        lost: () => {
          throw Object.assign(new Error(`connection terminated; retry with ${PASSWORD}`), { code: '57P01' });
        },
      },
    });
    f.nodes.push(node);
    const events: NodeEvent[] = [];
    node.events$.subscribe((e) => events.push(e));
    const { url: nodeUrl } = await node.start();
    await until(() => node.status === 'active', 15_000, 'active');
    expect((await rawRpc(nodeUrl, 'leak', {})).body).toMatchObject({ error: { code: -32603 } });
    expect((await rawRpc(nodeUrl, 'lost', {})).body).toMatchObject({ error: 'NOT_EXECUTED' });
    const texts = events.map((e) => JSON.stringify(e));
    expect(texts.some((t) => t.includes('handler-error') && t.includes('refused the login'))).toBe(true);
    expect(texts.some((t) => t.includes('rolled-back') && t.includes('connection terminated'))).toBe(true);
    expect(texts.filter((t) => t.includes(PASSWORD))).toEqual([]);
    expect(logged.filter((t) => t.includes(PASSWORD))).toEqual([]);
  }, 60_000);
});
