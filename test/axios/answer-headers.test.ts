/**
 * The REST adapter reads an answer's hotcold headers and matches routes on its success path
 * without axios's per-name `get` and without path-to-regexp's params object: these check that
 * the quicker reads decide exactly what the general ones do.
 */
import { AxiosHeaders } from 'axios';
import { match } from 'path-to-regexp';
import { describe, expect, it } from 'vitest';
import { readHotcoldHeaders, type HeaderSource } from '../../src/axios/classify-response.js';
import { compileRoutes, pathOf } from '../../src/axios/routes.js';

/** The same headers behind an object that is not AxiosHeaders: read through its `get`, one name at a time. */
function throughGet(headers: AxiosHeaders): HeaderSource {
  return { get: (name: string): unknown => headers.get(name) };
}

describe('readHotcoldHeaders on axios headers', () => {
  const cases: Array<[string, Record<string, unknown>]> = [
    ['a node answer as Node gives it (lower case)', { 'content-type': 'application/json', 'x-hotcold-node': 'n1', 'x-hotcold-epoch': '7', 'x-hotcold-dedup': '1' }],
    ['mixed case, numbers and arrays', { 'X-Hotcold-Node': ['n2', 'n3'], 'X-HOTCOLD-EPOCH': 12, 'Retry-After': '3', 'X-Hotcold-Not-Forwarded': ' 1 ' }],
    ['nothing of ours', { date: 'Mon, 30 Nov 2026 00:00:00 GMT', connection: 'keep-alive', 'x-other': 'y', 'retry-later': '1' }],
    ['empty node, bad epoch', { 'x-hotcold-node': '', 'x-hotcold-epoch': '1e3', 'x-hotcold-dedup': '0', 'retry-after': 'Wed, 21 Oct 2015 07:28:00 GMT' }],
    ['values axios keeps as they are', { 'x-hotcold-node': false, 'x-hotcold-epoch': null, 'x-hotcold-dedup': true }],
  ];
  for (const [what, raw] of cases) {
    it(`reads what get() reads: ${what}`, () => {
      const headers = new AxiosHeaders();
      // Stored as given (set() would normalise values): the reader must cope with whatever an adapter put there.
      Object.assign(headers, raw);
      expect(readHotcoldHeaders(headers as unknown as HeaderSource)).toEqual(readHotcoldHeaders(throughGet(headers)));
    });
  }

  it('with two spellings of one name, the one stored last wins, as with get()', () => {
    const headers = new AxiosHeaders();
    Object.assign(headers, { 'x-hotcold-node': 'first', 'X-Hotcold-Node': 'second', 'x-hotcold-epoch': '1', 'X-HOTCOLD-EPOCH': '2' });
    const read = readHotcoldHeaders(headers);
    expect(read).toEqual(readHotcoldHeaders(throughGet(headers)));
    expect(read.node).toBe('second');
    expect(read.epoch).toBe(2);
  });
});

describe('route lookup', () => {
  const patterns = ['/accounts/:id', '/files/*path', '/items{/:id}', '/a/:x/b/:y', '/Transfers'];
  const paths = ['/accounts/A', '/accounts/A/', '/accounts', '/accounts/a%2Fb', '/files/x/y/z', '/files', '/items', '/items/3', '/items/3/4', '/a/1/b/2', '/A/1/B/2', '/transfers', '/TRANSFERS/'];
  it("matches exactly the paths path-to-regexp's match() matches", () => {
    for (const pattern of patterns) {
      const table = compileRoutes({ [`GET ${pattern}`]: { timeoutMs: 100 } });
      const reference = match(pattern, { decode: false });
      for (const path of paths) {
        const found = table.lookup('get', path);
        expect({ pattern, path, routed: found.policy !== undefined }).toEqual({ pattern, path, routed: reference(path) !== false });
        // A path is tested again and again (no regexp state carried between requests).
        expect(table.lookup('GET', path).policy !== undefined).toBe(reference(path) !== false);
      }
    }
  });
});

describe('pathOf', () => {
  it('is the path of the URL, bare or absolute, without query or fragment', () => {
    const cases: Array<[string | undefined, string]> = [
      [undefined, '/'],
      ['', '/'],
      ['/accounts/7', '/accounts/7'],
      ['/accounts/7?x=1', '/accounts/7'],
      ['/accounts/7#top', '/accounts/7'],
      ['/?q', '/'],
      ['accounts/7', '/accounts/7'],
      ['//cdn.example/a', '/a'],
      ['//user:pw@cdn.example:8/a?b', '/a'],
      ['//x', '/'],
      ['http://h:1/a/b?c#d', '/a/b'],
      ['HTTPS://h', '/'],
      ['?only=query', '/'],
    ];
    for (const [url, path] of cases) expect({ url, path: pathOf(url) }).toEqual({ url, path });
  });
});
