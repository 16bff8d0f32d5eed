import {
  JSONRPC_INVALID_REQUEST,
  JSONRPC_METHOD_NOT_FOUND,
  JSONRPC_PARSE_ERROR,
  MAX_IDEMPOTENCY_KEY_LENGTH,
} from '../../wire.js';
import type { Check } from './check.js';
import { brief, expect, show, EPOCH_PATTERN } from './probe.js';
import { header } from './exchange.js';

/** Health, identity, results and error shapes (docs/wire.md §2, §4, §7). */

export const basicChecks: readonly Check[] = [
  {
    id: 'health.active',
    requirement: '§7 GET <healthPath> of the active node answers 200 {"status":"active","node":<string>,"epoch":<integer>}',
    async run(p) {
      const answer = await p.health(p.settings.url);
      const body = answer.json as { status?: unknown; node?: unknown; epoch?: unknown } | undefined;
      expect(answer.status === 200, `expected HTTP 200, got ${show(answer)} — is this node the active one?`);
      expect(typeof body === 'object' && body !== null, `the body is not a JSON object: ${show(answer)}`);
      expect(body.status === 'active', `status is ${brief(body.status)}, expected "active"`);
      expect(typeof body.node === 'string' && body.node.length > 0, `node is ${brief(body.node)}, expected a non-empty string`);
      expect(typeof body.epoch === 'number' && Number.isSafeInteger(body.epoch) && body.epoch >= 0, `epoch is ${brief(body.epoch)}, expected an integer >= 0`);
      p.identity = { node: body.node, epoch: body.epoch };
      return `200 ${brief(body)}`;
    },
  },
  {
    id: 'health.headers',
    requirement: '§4.1 §7 the health answer carries X-Hotcold-Node and X-Hotcold-Epoch equal to its body\'s node and epoch',
    async run(p) {
      const answer = await p.health(p.settings.url);
      const identity = p.nodeHeaders(answer, 'GET health');
      const body = answer.json as { node?: unknown; epoch?: unknown } | undefined;
      expect(identity.node === body?.node, `X-Hotcold-Node ${brief(identity.node)} differs from the body's node ${brief(body?.node)}`);
      expect(identity.epoch === body?.epoch, `X-Hotcold-Epoch ${identity.epoch} differs from the body's epoch ${brief(body?.epoch)}`);
      return `node ${identity.node}, epoch ${identity.epoch}`;
    },
  },
  {
    id: 'rpc.result',
    requirement: '§2 §4.2 a call answers 200 with a JSON-RPC 2.0 result and the request\'s id (number or string); X-Hotcold-Attempt is accepted',
    async run(p) {
      const params = { text: 'héllo', list: [1, 'two', null], nested: { ok: true } };
      const first = await p.rpc('conformance.echo', params, { id: 7, key: p.fresh('echo'), attempt: 1, timeoutHeader: '30000' });
      const result = p.result(first, 7, 'conformance.echo');
      expect(p.sameResult(result, params), `conformance.echo answered ${brief(result)}, expected its params ${brief(params)}`);
      const stringId = `id-${p.run}`;
      const second = await p.rpc('conformance.echo', [1, 2], { id: stringId, key: p.fresh('echo'), attempt: 3 });
      const again = p.result(second, stringId, 'conformance.echo with a string id and X-Hotcold-Attempt: 3');
      expect(p.sameResult(again, [1, 2]), `conformance.echo answered ${brief(again)}, expected [1,2]`);
      const contentType = header(first, 'content-type') ?? '';
      expect(/^application\/json\b/i.test(contentType), `Content-Type is ${brief(contentType)}, expected application/json`);
      return 'results and ids as sent';
    },
  },
  {
    id: 'rpc.identity',
    requirement: '§4.1 a call\'s answer carries X-Hotcold-Node and X-Hotcold-Epoch, the same as the active node\'s /health',
    async run(p) {
      const answer = await p.rpc('conformance.echo', { ping: 1 }, { key: p.fresh('identity') });
      p.result(answer);
      const identity = p.nodeHeaders(answer, 'conformance.echo');
      expect(p.identity !== undefined, '/health gave no identity to compare with (see health.active)');
      expect(identity.node === p.identity.node, `X-Hotcold-Node ${brief(identity.node)} is not /health's node ${brief(p.identity.node)}`);
      expect(identity.epoch === p.identity.epoch, `X-Hotcold-Epoch ${identity.epoch} is not /health's epoch ${p.identity.epoch}`);
      return `node ${identity.node}, epoch ${identity.epoch}`;
    },
  },
  {
    id: 'rpc.executes',
    requirement: '§8 a call without Idempotency-Key executes every time it is sent (conformance.counter adds once per call)',
    async run(p) {
      const name = p.fresh('counter');
      const before = await p.readCounter(name);
      const a = p.result(await p.rpc('conformance.counter', { name }), 1, 'conformance.counter') as { value?: unknown };
      const b = p.result(await p.rpc('conformance.counter', { name }), 1, 'conformance.counter') as { value?: unknown };
      expect(a?.value === before + 1 && b?.value === before + 2, `two keyless calls answered ${brief(a)} then ${brief(b)}, expected values ${before + 1} and ${before + 2}`);
      await p.expectCounter(name, before + 2, 'after two keyless calls');
      return 'two calls, two executions';
    },
  },
  {
    id: 'rpc.method-not-found',
    requirement: '§4.2 an unknown method answers the JSON-RPC error -32601 with the request\'s id and node headers',
    async run(p) {
      const answer = await p.rpc(`conformance.no-such-method-${p.run}`, {}, { id: 11, key: p.fresh('nomethod') });
      const error = p.rpcError(answer, 'unknown method');
      expect(error.code === JSONRPC_METHOD_NOT_FOUND, `code ${error.code}, expected ${JSONRPC_METHOD_NOT_FOUND}`);
      expect(error.id === 11, `id ${brief(error.id)}, expected 11`);
      p.nodeHeaders(answer, 'unknown method');
      return `HTTP ${answer.status} code ${error.code}`;
    },
  },
  {
    id: 'rpc.parse-error',
    requirement: '§4.2 a body that is not JSON answers the JSON-RPC error -32700 with id null, and executes nothing',
    async run(p) {
      const answer = await p.rpc('', undefined, { rawBody: '{"jsonrpc":"2.0","id":1,"method":"conformance.echo",', key: p.fresh('parse') });
      const error = p.rpcError(answer, 'malformed JSON');
      expect(error.code === JSONRPC_PARSE_ERROR, `code ${error.code}, expected ${JSONRPC_PARSE_ERROR}`);
      expect(error.id === null, `id ${brief(error.id)}, expected null`);
      p.nodeHeaders(answer, 'malformed JSON');
      return `HTTP ${answer.status} code ${error.code}`;
    },
  },
  {
    id: 'rpc.invalid-request',
    requirement: '§4.2 a JSON body that is not a JSON-RPC 2.0 request answers the JSON-RPC error -32600, and executes nothing',
    async run(p) {
      const name = p.fresh('counter');
      const before = await p.readCounter(name);
      const answer = await p.rpc('', undefined, { rawBody: JSON.stringify({ jsonrpc: '1.0', id: 5, method: 'conformance.counter', params: { name } }), key: p.fresh('invalid') });
      const error = p.rpcError(answer, 'a jsonrpc "1.0" request');
      expect(error.code === JSONRPC_INVALID_REQUEST, `code ${error.code}, expected ${JSONRPC_INVALID_REQUEST}`);
      expect(error.id === 5 || error.id === null, `id ${brief(error.id)}, expected 5 or null`);
      await p.expectCounter(name, before, 'after an invalid request');
      return `HTTP ${answer.status} code ${error.code}, not executed`;
    },
  },
  {
    id: 'rpc.application-error',
    requirement: '§4.2 a method\'s own error is answered as a JSON-RPC error object {code, message, data} with the request\'s id and node headers',
    async run(p) {
      const data = { reason: 'conformance', at: [1, 2] };
      const answer = await p.rpc('conformance.fail', { code: 4711, message: 'conformance failure', data }, { id: 'fail-1', key: p.fresh('fail') });
      const error = p.rpcError(answer, 'conformance.fail');
      expect(error.code === 4711 && error.message === 'conformance failure', `error ${brief(error)}, expected code 4711 "conformance failure"`);
      expect(p.sameResult(error.data, data), `data ${brief(error.data)}, expected ${brief(data)}`);
      expect(error.id === 'fail-1', `id ${brief(error.id)}, expected "fail-1"`);
      expect(answer.status === 200, `HTTP ${answer.status}: a JSON-RPC error is answered with 200`);
      p.nodeHeaders(answer, 'conformance.fail');
      return `HTTP 200 code ${error.code}`;
    },
  },
  {
    id: 'key.invalid',
    requirement: `§3 §8 an Idempotency-Key longer than ${MAX_IDEMPOTENCY_KEY_LENGTH} characters is refused with the JSON-RPC error -32600 and not executed`,
    async run(p) {
      const name = p.fresh('counter');
      const before = await p.readCounter(name);
      const answer = await p.rpc('conformance.counter', { name }, { key: 'k'.repeat(MAX_IDEMPOTENCY_KEY_LENGTH + 1) });
      const error = p.rpcError(answer, `a ${MAX_IDEMPOTENCY_KEY_LENGTH + 1}-character key`);
      expect(error.code === JSONRPC_INVALID_REQUEST, `code ${error.code}, expected ${JSONRPC_INVALID_REQUEST}`);
      await p.expectCounter(name, before, `after a ${MAX_IDEMPOTENCY_KEY_LENGTH + 1}-character key`);
      return `HTTP ${answer.status} code ${error.code}, not executed`;
    },
  },
];

/** Checks that hold for every node answer seen during the run; run last. */
export const everyAnswerChecks: readonly Check[] = [
  {
    id: 'identity.every-answer',
    requirement: '§4.1 every answer of a node (results, errors, 503s, health) carries X-Hotcold-Node and a decimal X-Hotcold-Epoch',
    async run(p) {
      expect(p.answers.length > 0, 'no answer of a node was seen during the run');
      const missing = p.answers.filter(({ answer }) => {
        const node = header(answer, 'x-hotcold-node');
        const epoch = header(answer, 'x-hotcold-epoch');
        return !(typeof node === 'string' && node.length > 0 && typeof epoch === 'string' && EPOCH_PATTERN.test(epoch));
      });
      expect(missing.length === 0, `${missing.length} of ${p.answers.length} answers lack them, e.g. ${missing.slice(0, 3).map((m) => `${m.from} ${m.what}: ${show(m.answer)}`).join('; ')}`);
      return `${p.answers.length} answers, all with node headers`;
    },
  },
  {
    id: 'dedup.advertised',
    requirement: '§8 a node that deduplicates sends X-Hotcold-Dedup: 1 on every answer, /health included; one that does not never sends it',
    async run(p) {
      const fromNode = p.answers.filter(({ answer }) => header(answer, 'x-hotcold-node') !== undefined);
      expect(fromNode.length > 0, 'no answer of a node (with X-Hotcold-Node) was seen during the run');
      const wrong = fromNode.filter(({ answer }) => (p.dedupHeader(answer) === '1') !== p.settings.dedup);
      const claim = p.settings.dedup ? 'lack X-Hotcold-Dedup: 1' : 'carry X-Hotcold-Dedup although dedup: false was given';
      expect(wrong.length === 0, `${wrong.length} of ${fromNode.length} answers ${claim}, e.g. ${wrong.slice(0, 3).map((m) => `${m.from} ${m.what}: ${show(m.answer)}`).join('; ')}`);
      return `${fromNode.length} answers ${p.settings.dedup ? 'advertise' : 'do not advertise'} dedup`;
    },
  },
];
