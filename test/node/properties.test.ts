import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalJson, fingerprint } from 'hotcold/node';
import { parseRequest } from '../../src/node/json-rpc.js';
import { Slots } from '../../src/node/slots.js';

/** Reorders every object's keys (recursively), keeping the value the same JSON value. */
function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v, i) => shuffleKeys(v, seed + i));
  if (value === null || typeof value !== 'object') return value;
  const entries = Object.entries(value as Record<string, unknown>);
  const rotated = entries.length === 0 ? entries : [...entries.slice(seed % entries.length), ...entries.slice(0, seed % entries.length)].reverse();
  return Object.fromEntries(rotated.map(([k, v]) => [k, shuffleKeys(v, seed + 1)]));
}

describe('idempotency fingerprint', () => {
  it('is the same for the same params whatever the key order, and canonical JSON parses back to an equal value', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.nat(50), (value, seed) => {
        const shuffled = shuffleKeys(value, seed);
        expect(canonicalJson(shuffled)).toBe(canonicalJson(value));
        expect(fingerprint('m', shuffled)).toBe(fingerprint('m', value));
        expect(JSON.parse(canonicalJson(value))).toEqual(JSON.parse(JSON.stringify(value) ?? 'null'));
      }),
    );
  });

  it('differs when the params (as JSON) or the method differ', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        fc.pre(canonicalJson(a) !== canonicalJson(b));
        expect(fingerprint('m', a)).not.toBe(fingerprint('m', b));
        expect(fingerprint('m', a)).not.toBe(fingerprint('n', a));
      }),
    );
  });
});

describe('JSON-RPC request parsing', () => {
  it('never throws, and answers every malformed body with a JSON-RPC error object', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json(), fc.jsonValue().map((v) => JSON.stringify({ jsonrpc: '2.0', id: 1, ...(typeof v === 'object' && v !== null && !Array.isArray(v) ? v : { method: v }) }))), (body) => {
        const parsed = parseRequest(body);
        if (parsed.ok) {
          expect(typeof parsed.method).toBe('string');
          expect(parsed.params === undefined || typeof parsed.params === 'object').toBe(true);
        } else {
          expect(parsed.response.jsonrpc).toBe('2.0');
          expect('error' in parsed.response && typeof parsed.response.error.code).toBe('number');
        }
      }),
    );
  });
});

describe('transaction slots', () => {
  it('never runs more than the limit at once and runs every task', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 1, max: 5 }), fc.array(fc.nat(5), { minLength: 1, maxLength: 30 }), async (limit, delays) => {
        const slots = new Slots(limit);
        let running = 0;
        let peak = 0;
        const signal = new AbortController().signal;
        const done = await Promise.all(
          delays.map((d, i) =>
            slots.run(signal, async () => {
              running += 1;
              peak = Math.max(peak, running);
              await new Promise((r) => setTimeout(r, d));
              running -= 1;
              return i;
            }),
          ),
        );
        expect(done).toEqual(delays.map((_, i) => i));
        expect(peak).toBeLessThanOrEqual(limit);
      }),
      { numRuns: 30 },
    );
  });
});
