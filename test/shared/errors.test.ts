import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import {
  ConfigurationError,
  ConnectionFailureException,
  RetriesExhaustedException,
  UnknownOutcomeException,
} from '../../src/errors.js';
import { redactDeep, redactText, redactUrl, SecretScope } from '../../src/shared/redact.js';

describe('RPCException basics', () => {
  it('says whether the call may have run', () => {
    expect(new ConnectionFailureException('refused').mayHaveExecuted).toBe(false);
    expect(new UnknownOutcomeException('reset').mayHaveExecuted).toBe(true);
    const exhausted = new RetriesExhaustedException('gave up', 'attempts', [
      new ConnectionFailureException('a'),
      new UnknownOutcomeException('b'),
    ]);
    expect(exhausted.mayHaveExecuted).toBe(true);
    expect(exhausted.attempts).toBe(2);
  });

  it('never keeps a raw cause that could carry request config', () => {
    const raw = Object.assign(new Error('socket hang up'), {
      code: 'ECONNRESET',
      config: { headers: { Authorization: 'Bearer sekrit-token-123' }, data: '{"pin":"1234"}' },
    });
    const error = new UnknownOutcomeException('reset after write', { cause: raw });
    const text = `${inspect(error, { depth: 10 })}${JSON.stringify(error)}${error.stack}`;
    expect(text).not.toContain('sekrit-token-123');
    expect(text).not.toContain('pin');
    expect((error.cause as { code?: string }).code).toBe('ECONNRESET');
  });
});

describe('redaction', () => {
  it('scrubs URL userinfo, auth schemes and registered secrets', () => {
    expect(redactUrl('http://alice:pw1234@host:8080/rpc')).not.toContain('pw1234');
    expect(redactText('Authorization: Basic YWxpY2U6cHc=')).not.toContain('YWxpY2U6cHc=');
    const scope = new SecretScope();
    scope.add('hunter2-literal');
    expect(redactText('driver said hunter2-literal is wrong', scope)).toBe('driver said [REDACTED] is wrong');
    // Scoped: without its owner's scope the literal is not known.
    expect(redactText('driver said hunter2-literal is wrong')).toBe('driver said hunter2-literal is wrong');
    scope.clear();
    expect(scope.empty).toBe(true);
  });

  it('redacts deeply: nested strings, credential-named keys, cycles', () => {
    const cyclic: Record<string, unknown> = { note: 'Authorization: Bearer abc.def', list: [{ password: 'p4ss-w0rd' }] };
    cyclic.self = cyclic;
    const out = JSON.stringify(redactDeep(cyclic));
    expect(out).not.toContain('abc.def');
    expect(out).not.toContain('p4ss-w0rd');
    expect(out).toContain('[…]');
  });

  it('ConfigurationError names the field, never the value', () => {
    const error = new ConfigurationError('retry.maxAttempts', 'must be a positive integer');
    expect(error.field).toBe('retry.maxAttempts');
    expect(error.message).toContain('retry.maxAttempts');
  });
});
