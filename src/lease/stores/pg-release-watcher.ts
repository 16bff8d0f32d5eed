import type pg from 'pg';
import { endWithin } from './bounded-close.js';
import { destroyClient } from './pg-destroy.js';

/**
 * PostgreSQL LISTEN/NOTIFY as an ACCELERATOR for release handover: a releasing engine (or the
 * CLI) sends `pg_notify(channel, leaseName)`, and a waiting standby re-reads the row at once
 * instead of at its next poll. Correctness never depends on it: if the listening connection dies
 * (failover, pg_terminate_backend) standbys simply keep polling, and the next subscription opens a
 * new connection.
 *
 * One dedicated connection per store, opened on the first subscription and kept until the store
 * closes (closing it with the last subscriber would race with the next one): LISTEN needs a
 * session of its own, and borrowing it from the pool would shrink the pool the application sized
 * for itself.
 */
/** Ends a client gracefully, or tears it down if a frozen server keeps it from ending. */
function endClient(client: pg.Client): Promise<void> {
  return endWithin(() => client.end(), () => destroyClient(client));
}

export class PgReleaseWatcher {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client | undefined> | undefined;
  private readonly listeners = new Map<string, Set<() => void>>();
  private closed = false;

  constructor(
    private readonly channel: string,
    private readonly newClient: () => Promise<pg.Client>,
  ) {}

  async watch(name: string, onRelease: () => void): Promise<() => Promise<void>> {
    let set = this.listeners.get(name);
    if (!set) {
      set = new Set();
      this.listeners.set(name, set);
    }
    const entry = (): void => onRelease();
    set.add(entry);
    await this.connect();
    return async () => {
      const current = this.listeners.get(name);
      current?.delete(entry);
      if (current?.size === 0) this.listeners.delete(name);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
    await this.disconnect();
  }

  private connect(): Promise<pg.Client | undefined> {
    if (this.client) return Promise.resolve(this.client);
    if (this.closed) return Promise.resolve(undefined);
    this.connecting ??= (async () => {
      let client: pg.Client | undefined;
      try {
        client = await this.newClient();
        client.on('error', () => this.drop(client));
        client.on('end', () => this.drop(client));
        client.on('notification', (message) => {
          const set = message.channel === this.channel && message.payload ? this.listeners.get(message.payload) : undefined;
          for (const listener of set ?? []) listener();
        });
        await client.connect();
        await client.query(`LISTEN "${this.channel}"`);
        if (this.closed) {
          await endClient(client);
          return undefined;
        }
        this.client = client;
        return client;
      } catch {
        // Best effort: without a listener, standbys still poll.
        if (client) await endClient(client);
        return undefined;
      } finally {
        this.connecting = undefined;
      }
    })();
    return this.connecting;
  }

  private drop(client: pg.Client | undefined): void {
    if (client && this.client === client) this.client = undefined;
    if (client) void endClient(client);
  }

  private async disconnect(): Promise<void> {
    // A connection still being opened ends itself once it sees `closed` (bounded by its connect timeout).
    const client = this.client;
    this.client = undefined;
    if (client) await endClient(client);
  }
}
