/**
 * Adapter between the pipeline and the policy module's circuit breakers (one per backend).
 * TEMPORARY no-op until src/policy/breaker.ts lands.
 */
import type { Deadline } from '../policy/deadline.js';
import type { RPCException } from '../errors.js';
import type { ClientEvent } from './types.js';

export interface Breakers {
  readonly whenOpen: 'fail' | 'wait';
  /** Before an attempt: undefined when the breaker lets it through at once. */
  enter(backend: string, method: string, deadline: Deadline, signal: AbortSignal): Promise<void> | undefined;
  success(backend: string): void;
  failure(backend: string, error: RPCException): void;
  observeIdentity(backend: string, node: string | undefined, epoch: number | undefined): void;
  dispose(): void;
}

export function createBreakers(_options: unknown, _emit: (event: ClientEvent) => void): Breakers {
  return {
    whenOpen: 'fail',
    enter: () => undefined,
    success: () => undefined,
    failure: () => undefined,
    observeIdentity: () => undefined,
    dispose: () => undefined,
  };
}
