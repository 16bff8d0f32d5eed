/** Shared bits of the client suites: fast policies, event capture, waiting on conditions. */
import type { Observable } from 'rxjs';
import { afterEach, beforeEach } from 'vitest';
import { createClient, type ClientEvent, type ClientEventType, type ClientOptions, type HotcoldClient } from 'hotcold';
import { startFaultServer, type FaultServer, type FaultServerOptions } from 'hotcold/testing';

/** Retry quickly so suites stay fast; the values are not what production would use. */
export const FAST_RETRY = { maxAttempts: 4, minDelayMs: 1, maxDelayMs: 5 } as const;
export const FAST_RECONNECT = { minDelayMs: 5, maxDelayMs: 20, probeTimeoutMs: 500 } as const;

export interface EventLog {
  readonly all: ClientEvent[];
  of<T extends ClientEventType>(type: T): Extract<ClientEvent, { type: T }>[];
  stop(): void;
}

export function record(events$: Observable<ClientEvent>): EventLog {
  const all: ClientEvent[] = [];
  const subscription = events$.subscribe((event) => all.push(event));
  return {
    all,
    of: <T extends ClientEventType>(type: T) => all.filter((e): e is Extract<ClientEvent, { type: T }> => e.type === type),
    stop: () => subscription.unsubscribe(),
  };
}

/** Polls `condition` every 5 ms until true, or fails after `timeoutMs`. */
export async function until(condition: () => boolean, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const start = performance.now();
  while (!condition()) {
    if (performance.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

export const delay = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * A fault server started before each test and closed after it, and a `client()` factory over it
 * whose clients are closed after each test too. Call at a suite file's top level.
 */
export function faultServerSuite(
  defaults: Partial<ClientOptions>,
  serverOptions?: FaultServerOptions,
): { readonly server: FaultServer; client(options?: Partial<ClientOptions>): HotcoldClient } {
  let server: FaultServer | undefined;
  const clients: HotcoldClient[] = [];
  beforeEach(async () => {
    server = await startFaultServer(serverOptions);
  });
  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.close()));
    await server?.close();
  });
  return {
    get server(): FaultServer {
      if (server === undefined) throw new Error('the fault server runs only inside a test');
      return server;
    },
    client(options: Partial<ClientOptions> = {}): HotcoldClient {
      const c = createClient({ url: this.server.url, ...defaults, ...options });
      clients.push(c);
      return c;
    },
  };
}
