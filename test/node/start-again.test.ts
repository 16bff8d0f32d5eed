/**
 * A node whose start() failed (its port taken, its database down) can be started again: the
 * failed attempt is not cached as the node's start forever.
 */
import net from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { createNode } from 'hotcold/node';
import { createLease, sqliteStore } from 'hotcold/lease';
import { fixture, rpc, until, type Fixture } from './support.js';

let f: Fixture | undefined;
afterEach(async () => {
  await f?.cleanup();
  f = undefined;
});

it('start() after a failed start() binds once the port is free, and serves', async () => {
  f = fixture();
  const blocker = net.createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  const port = (blocker.address() as net.AddressInfo).port;
  const store = sqliteStore(f.dbPath);
  f.stores.push(store);
  const lease = createLease({ store, machineName: 'alpha', updateInterval: 200, waitInterval: 1_000, mode: 'warm' });
  f.leases.push(lease);
  const node = createNode({ lease, port, host: '127.0.0.1', handlers: { ping: () => 'pong' } });
  f.nodes.push(node);

  await expect(node.start()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  await new Promise<void>((resolve, reject) => blocker.close((error) => (error ? reject(error) : resolve())));

  const address = await node.start();
  expect(address.port).toBe(port);
  // Once started, start() answers the same start.
  expect(await node.start()).toEqual(address);
  await until(() => node.status === 'active', 20_000, 'alpha active');
  expect((await rpc(address.url, 'ping')).body.result).toBe('pong');
});
