/**
 * A bad route policy is refused with a ConfigurationError naming the option as written,
 * `routes['<route>']…`: the pipeline validates routes as its `methods`, an option attachPolicy
 * itself refuses, so an error naming `methods.GET /x.timeoutMs` points at nothing you set.
 */
import axios from 'axios';
import { describe, expect, it } from 'vitest';
import { attachPolicy, ConfigurationError, type AttachPolicyOptions } from 'hotcold/axios';

describe('route options', () => {
  const cases: Array<[AttachPolicyOptions['routes'], string]> = [
    [{ 'GET /x': { timeoutMs: -1 } }, "routes['GET /x'].timeoutMs"],
    [{ 'GET /x': { deadlineMs: 'soon' as unknown as number } }, "routes['GET /x'].deadlineMs"],
    [{ 'GET /x': { retry: 'no' as unknown as false } }, "routes['GET /x'].retry"],
    [{ 'GET /ok': { timeoutMs: 5 }, 'GET /v1.2/x': { retry: { maxAttempts: 0 } } }, "routes['GET /v1.2/x'].retry.maxAttempts"],
  ];
  for (const [routes, field] of cases) {
    it(`${field} is named as written`, () => {
      const api = axios.create({ baseURL: 'http://127.0.0.1:1' });
      let error: unknown;
      try {
        void attachPolicy(api, { routes }).detach();
      } catch (thrown) {
        error = thrown;
      }
      expect(error).toBeInstanceOf(ConfigurationError);
      expect((error as ConfigurationError).field).toBe(field);
      expect((error as Error).message).not.toContain('methods');
      // Refused before anything was attached: the instance takes a policy afterwards.
      void attachPolicy(api, {}).detach();
    });
  }
});
