import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigurationError, createClient } from 'hotcold';
import { createLease, sqliteStore, type Lease } from 'hotcold/lease';
import { createNode } from 'hotcold/node';
import { createRestLedgerNode, runConformance, startFaultServer, startGrpcLedgerNode, type FaultServer } from 'hotcold/testing';
import { requireHeaderText } from '../../src/shared/validate.js';

/**
 * Configured text that ends up in an HTTP header or gRPC metadata is checked where it is
 * configured. Node refuses a header value outside latin1 (ERR_INVALID_CHAR), grpc-js one outside
 * printable ASCII: `createNode` over a lease named 'nœud-1' was created and started, then crashed
 * at its first response; the other entry points failed (or crashed) just as late.
 */
const NON_ASCII = 'nœud-1';

function configurationError(field: string): unknown {
  return expect.objectContaining({ name: 'ConfigurationError', field });
}

describe('requireHeaderText', () => {
  it('accepts visible ASCII with inner spaces or tabs, and the empty value', () => {
    for (const ok of ['node-a', 'Bearer abc.def', 'a\tb', '', '~!#$%']) expect(requireHeaderText(ok, 'f')).toBe(ok);
  });

  it('refuses non-ASCII, control characters, line breaks, outer whitespace and non-strings, naming the field', () => {
    for (const bad of [NON_ASCII, 'é', 'a\r\nb', 'a\0', ' a', 'a ', '\ta', 42, undefined, null]) {
      expect(() => requireHeaderText(bad, 'the.field')).toThrow(ConfigurationError);
      try {
        requireHeaderText(bad, 'the.field');
      } catch (error) {
        expect(error).toMatchObject({ field: 'the.field' });
        // Never the value (it may be a credential).
        if (typeof bad === 'string' && bad.trim().length > 1) expect((error as Error).message).not.toContain(bad.trim());
      }
    }
  });
});

describe('entry points refuse non-ASCII header text at construction', () => {
  let dir: string;
  const leases: Lease[] = [];
  const servers: FaultServer[] = [];
  afterEach(async () => {
    for (const server of servers.splice(0)) await server.close();
    for (const lease of leases.splice(0)) {
      await lease.close().catch(() => undefined);
      await lease.store.close().catch(() => undefined);
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  function leaseNamed(machineName: string): Lease {
    dir = mkdtempSync(join(tmpdir(), 'hotcold-header-'));
    // The lease accepts it: a machine name is a database value, any well-formed text.
    const lease = createLease({ store: sqliteStore(join(dir, 'db.sqlite')), machineName, mode: 'warm' });
    leases.push(lease);
    return lease;
  }

  it('createNode: a lease machine name that is no header text (X-Hotcold-Node)', () => {
    const lease = leaseNamed(NON_ASCII);
    expect(() => createNode({ lease, port: 0, handlers: {} })).toThrow(ConfigurationError);
    expect(() => createNode({ lease, port: 0, handlers: {} })).toThrow(expect.objectContaining({ field: 'lease.machineName' }));
  });

  it('createNode: an ASCII machine name with a space is served as it is', async () => {
    const lease = leaseNamed('node a');
    const node = createNode({ lease, port: 0, handlers: {}, dedup: false, feeds: false });
    try {
      const { url } = await node.start();
      const res = await fetch(`${url}/health`);
      await res.text();
      expect(res.headers.get('x-hotcold-node')).toBe('node a');
    } finally {
      await node.close();
    }
  });

  it('createRestLedgerNode: the same machine name', () => {
    const lease = leaseNamed(NON_ASCII);
    expect(() => createRestLedgerNode({ lease, port: 0 })).toThrow(configurationError('lease.machineName'));
  });

  it('startGrpcLedgerNode: the machine name it sends as x-hotcold-node metadata', async () => {
    const lease = leaseNamed(NON_ASCII);
    await expect(startGrpcLedgerNode({ lease, port: 0 })).rejects.toEqual(configurationError('lease.machineName'));
  });

  it('startFaultServer: node, setNode, and the header text of queued modes', async () => {
    await expect(startFaultServer({ node: NON_ASCII })).rejects.toEqual(configurationError('node'));
    const server = await startFaultServer();
    servers.push(server);
    expect(() => server.setNode(NON_ASCII, 2)).toThrow(configurationError('node'));
    expect(() => server.enqueue({ mode: 'raw', headers: { 'x-name': NON_ASCII } })).toThrow(configurationError('mode.headers.x-name'));
    expect(() => server.enqueue({ mode: 'raw', headers: { 'bad name': 'x' } })).toThrow(configurationError('mode.headers'));
    expect(() => server.enqueue({ mode: 'not-active', retryAfter: '1\r\nx-injected: 1' })).toThrow(configurationError('mode.retryAfter'));
    await expect(startFaultServer({ mode: { mode: 'balancer-503', retryAfter: 'dans une seconde…' } })).rejects.toEqual(configurationError('mode.retryAfter'));
    // Nothing was queued: the server still answers as itself.
    const res = await fetch(`${server.url}/health`);
    await res.text();
    expect(res.headers.get('x-hotcold-node')).toBe('fault-node');
  });

  it('runConformance: headers and callers', async () => {
    await expect(runConformance('http://127.0.0.1:9', { headers: { authorization: `Bearer ${NON_ASCII}` } })).rejects.toEqual(configurationError('headers.authorization'));
    await expect(runConformance('http://127.0.0.1:9', { callers: [{ authorization: 'Bearer a' }, { authorization: `Bearer ${NON_ASCII}` }] })).rejects.toEqual(
      configurationError('callers[1].authorization'),
    );
  });

  // Held before this change: the client's transport refuses such a header value at construction.
  it('createClient: headers (already checked by the transport)', () => {
    expect(() => createClient({ url: 'http://127.0.0.1:9', headers: { 'x-tenant': NON_ASCII } })).toThrow(configurationError('headers.x-tenant'));
  });
});
