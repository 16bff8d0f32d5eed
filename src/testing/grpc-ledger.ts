/**
 * A reference gRPC ledger node for tests, examples and benchmarks: a `@grpc/grpc-js` server (an
 * optional peer dependency, loaded when the node starts) that serves only while it holds the
 * lease, the gRPC twin of `createNode` + `ledgerApp`:
 *
 * - `hotcold.testing.Ledger/Transfer` writes a ledger row (table `<prefix>_entries`, the shape
 *   {@link readLedger} reads) in one transaction fenced by the lease token; a repeated
 *   `idempotency-key` returns the stored row of the first execution (`x-hotcold-dedup: 1`).
 * - Not holding the lease: `UNAVAILABLE` with `x-hotcold-error: NOT_ACTIVE` ("not active, not
 *   executed") and `grpc-retry-pushback-ms`; the health service says `NOT_SERVING`.
 * - Lease lost or the transaction failed before commit: `UNAVAILABLE`, `x-hotcold-error:
 *   NOT_EXECUTED`; COMMIT sent and its fate unknown: `UNKNOWN`, `x-hotcold-error: COMMIT_UNKNOWN`.
 * - Every answer carries `x-hotcold-node` and `x-hotcold-epoch` (the fencing token).
 * - `grpc.health.v1.Health/Check`: `SERVING` only while the lease is held and valid.
 *
 * Messages use a JSON codec (the service definition is {@link ledgerGrpcService}); the interceptor
 * does not care about the codec, real services use protobuf.
 */
import type { Lease, LeaseStore } from '../lease/types.js';
import { CommitAbandonedError } from '../lease/errors.js';
import { certifiesNotCommitted } from '../node/failure-kind.js';
import { toNumber, upsertAdd } from '../node/sql-dialect.js';
import { ConfigurationError } from '../errors.js';
import { decodeHealthRequest, decodeHealthResponse, encodeHealthRequest, encodeHealthResponse, HEALTH_CHECK_PATH, ServingStatus, type HealthCheckRequest, type HealthCheckResponse } from '../grpc/health-codec.js';
import { GrpcMetadataKeys } from '../grpc/metadata-facts.js';
import { loadGrpc } from '../grpc/load-grpc.js';
import { GrpcStatus } from '../grpc/status-codes.js';
import { sleep } from '../shared/sleep.js';
import { requireHeaderText, requireNonNegativeInteger, requirePositiveInteger } from '../shared/validate.js';
import { Slots } from '../node/slots.js';
import { ledgerApp } from './ledger-app.js';

/** `Transfer`'s request: moves `amount` from `from` to `to`; `ref` is the caller's own reference. */
export interface GrpcTransferRequest {
  /** The debited account. */
  from: string;
  /** The credited account. */
  to: string;
  /** The amount, a positive integer. */
  amount: number;
  /** Your reference of the transfer. */
  ref: string;
}
/** `Transfer`'s reply: the ledger row's id and the fencing token it was written under. */
export interface GrpcTransferReply {
  /** The request's `ref`. */
  ref: string;
  /** The ledger row's id. */
  id: number;
  /** The fencing token of the term it was written under. */
  token: number;
  /** True when this answer is the stored result of an earlier execution with the same key. */
  replayed: boolean;
}
/** `Balance`'s request. */
export interface GrpcBalanceRequest {
  /** The account asked about. */
  account: string;
}
/** `Balance`'s reply. */
export interface GrpcBalanceReply {
  /** The account. */
  account: string;
  /** Its balance (0 for an account never used). */
  balance: number;
}
/** `Ping`'s reply: who answered. */
export interface GrpcPingReply {
  /** The node's machine name. */
  node: string;
  /** The fencing token of its term. */
  token: number;
}

/** One method of a grpc-js service definition (structural: grpc-js's `MethodDefinition`). */
export interface GrpcMethodDefinitionLike<Req, Res> {
  /** `/package.Service/Method`. */
  path: string;
  /** Always false: unary. */
  requestStream: false;
  /** Always false: unary. */
  responseStream: false;
  /** The method's name on a generated client (lower camel case). */
  originalName: string;
  /** Encodes a request. */
  requestSerialize(value: Req): Buffer;
  /** Decodes a request. */
  requestDeserialize(bytes: Buffer): Req;
  /** Encodes a reply. */
  responseSerialize(value: Res): Buffer;
  /** Decodes a reply. */
  responseDeserialize(bytes: Buffer): Res;
}

function jsonMethod<Req, Res>(service: string, name: string): GrpcMethodDefinitionLike<Req, Res> {
  const encode = (value: unknown): Buffer => Buffer.from(JSON.stringify(value));
  const decode = (bytes: Buffer): never => (bytes.length === 0 ? {} : JSON.parse(bytes.toString('utf8'))) as never;
  return {
    path: `/${service}/${name}`,
    requestStream: false,
    responseStream: false,
    originalName: name.charAt(0).toLowerCase() + name.slice(1),
    requestSerialize: encode,
    requestDeserialize: decode,
    responseSerialize: encode,
    responseDeserialize: decode,
  };
}

/** The ledger service: pass it to grpc-js `makeGenericClientConstructor(ledgerGrpcService, 'Ledger')`. */
export const ledgerGrpcService = Object.freeze({
  /** `Transfer`: not idempotent; deduplicated by the `idempotency-key` metadata. */
  transfer: jsonMethod<GrpcTransferRequest, GrpcTransferReply>('hotcold.testing.Ledger', 'Transfer'),
  /** `Balance`: read-only. */
  balance: jsonMethod<GrpcBalanceRequest, GrpcBalanceReply>('hotcold.testing.Ledger', 'Balance'),
  /** `Ping`: says which node answers. */
  ping: jsonMethod<Record<string, never>, GrpcPingReply>('hotcold.testing.Ledger', 'Ping'),
});

/** The standard health service (`grpc.health.v1.Health/Check`), protobuf-encoded. */
export const healthGrpcService = Object.freeze({
  /** `Check`: `SERVING` only while the node holds the lease. */
  check: {
    /** `/grpc.health.v1.Health/Check`. */
    path: HEALTH_CHECK_PATH,
    /** Unary. */
    requestStream: false,
    /** Unary. */
    responseStream: false,
    /** The method's name on a generated client. */
    originalName: 'check',
    /** Encodes a request (protobuf). */
    requestSerialize: (value: HealthCheckRequest): Buffer => encodeHealthRequest(value),
    /** Decodes a request (protobuf). */
    requestDeserialize: (bytes: Buffer): HealthCheckRequest => decodeHealthRequest(bytes),
    /** Encodes a reply (protobuf). */
    responseSerialize: (value: HealthCheckResponse): Buffer => encodeHealthResponse(value),
    /** Decodes a reply (protobuf). */
    responseDeserialize: (bytes: Buffer): HealthCheckResponse => decodeHealthResponse(bytes),
  },
});

/** Options of {@link startGrpcLedgerNode}. */
export interface GrpcLedgerNodeOptions {
  /** The lease this node serves under (its store holds the ledger too). The node acquires it. */
  lease: Lease;
  /** @default 0 (a free port) */
  port?: number;
  /** @default '127.0.0.1' */
  host?: string;
  /** Ledger table prefix ({@link readLedger}'s). @default 'ledger' */
  prefix?: string;
  /** Pushback sent with `NOT_ACTIVE` (gRFC A6 `grpc-retry-pushback-ms`), in ms. @default 100 */
  notActivePushbackMs?: number;
  /**
   * Ledger transactions open at once (others queue), as `createNode`'s: kept below the store's
   * pool size so that the lease's renewals always find a connection.
   * @default 4 on PostgreSQL, 2 on MariaDB/MySQL, unlimited on SQLite
   */
  maxConcurrentTransactions?: number;
}

/** A running gRPC ledger node (see {@link startGrpcLedgerNode}). */
export interface GrpcLedgerNode {
  /** The bound port. */
  readonly port: number;
  /** `127.0.0.1:<port>`: a grpc-js target. */
  readonly address: string;
  /** The machine name it answers as (`x-hotcold-node`). */
  readonly node: string;
  /** Calls executed (not replayed) so far. */
  readonly executed: number;
  /** Planned handover: release the lease (a standby takes over at once) and stand by for good: `NOT_ACTIVE`, `NOT_SERVING`. */
  release(): Promise<void>;
  /** Stops serving and releases the lease; closes the server. */
  stop(): Promise<void>;
}

class InvalidRequest extends Error {}

function text(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > 200) throw new InvalidRequest(`${field} must be a string of 1..200 characters`);
  return value;
}

/**
 * Starts the node: creates the ledger tables, binds, then acquires the lease (and again after
 * each release or loss) until stopped.
 * @throws {ConfigurationError} on invalid options (the lease's machine name must be visible ASCII: field `lease.machineName`), and naming `@grpc/grpc-js` (field) when that package is not installed
 * @example
 * import * as grpc from '@grpc/grpc-js';
 * import { createLease, sqliteStore } from 'hotcold/lease';
 * import { ledgerGrpcService, startGrpcLedgerNode } from 'hotcold/testing';
 *
 * const lease = createLease({ store: sqliteStore('/tmp/ledger.db'), machineName: 'a', mode: 'warm', updateInterval: 200, waitInterval: 1000 });
 * const node = await startGrpcLedgerNode({ lease });
 * const Ledger = grpc.makeGenericClientConstructor(ledgerGrpcService, 'Ledger');
 * const client = new Ledger(node.address, grpc.credentials.createInsecure());
 * // … calls; then
 * client.close();
 * await node.stop();
 * await lease.close();
 */
export async function startGrpcLedgerNode(options: GrpcLedgerNodeOptions): Promise<GrpcLedgerNode> {
  // The optional peer first: without it, a ConfigurationError naming the package to install.
  const grpc = loadGrpc();
  if (typeof options !== 'object' || options === null || typeof options.lease?.acquire !== 'function') throw new ConfigurationError('lease', 'must be a lease from createLease');
  const port = requireNonNegativeInteger('port', options.port ?? 0);
  const host = options.host ?? '127.0.0.1';
  const pushbackMs = requireNonNegativeInteger('notActivePushbackMs', options.notActivePushbackMs ?? 100);
  const maxTransactions = options.maxConcurrentTransactions === undefined ? undefined : requirePositiveInteger('maxConcurrentTransactions', options.maxConcurrentTransactions);
  const app = ledgerApp({ prefix: options.prefix ?? 'ledger' });
  const { lease } = options;
  const store: LeaseStore = lease.store;
  // Every ledger transaction takes a slot, as the node's calls do: without them 400 concurrent
  // transfers on PostgreSQL queued 400 transactions for the store's pool, the renewal waited
  // behind them and the node lost its lease (calls answered NOT_ACTIVE).
  const slots = new Slots(maxTransactions ?? (store.dialect === 'postgres' ? 4 : store.dialect === 'mysql' ? 2 : Number.POSITIVE_INFINITY));
  /** Slot waits end only with the transaction they wait for (a call's cancel is not heard here). */
  const noAbort = new AbortController().signal;
  // Every answer carries it as `x-hotcold-node` metadata, which must be visible ASCII (grpc-js
  // threw at the first answer otherwise); the lease already refuses tabs (control characters).
  const machine = requireHeaderText(lease.options.machineName, 'lease.machineName');
  type Metadata = InstanceType<typeof grpc.Metadata>;
  await app.setup(store);

  let executed = 0;
  let stopped = false;
  /** Aborts on stop() or release(): the node stops taking the lease. */
  const standDown = new AbortController();

  function answerMetadata(token: number | undefined, extra: Record<string, string> = {}): Metadata {
    const md = new grpc.Metadata();
    md.set(GrpcMetadataKeys.node, machine);
    if (token !== undefined) md.set(GrpcMetadataKeys.epoch, String(token));
    md.set(GrpcMetadataKeys.dedup, '1');
    for (const [k, v] of Object.entries(extra)) md.set(k, v);
    return md;
  }

  type Callback<R> = (error: { code: number; details: string; metadata: Metadata } | null, value?: R, trailer?: Metadata) => void;
  interface UnaryCall<Q> {
    request: Q;
    metadata: Metadata;
    sendMetadata(md: Metadata): void;
    /** grpc-js: the call was cancelled (its client gave up, or its deadline passed). */
    readonly cancelled?: boolean;
    on?(event: 'cancelled', listener: () => void): unknown;
    removeListener?(event: 'cancelled', listener: () => void): unknown;
  }

  /**
   * Aborts when the call's caller is gone (grpc-js emits 'cancelled' on the client's cancel and at
   * the call's deadline): a transfer still waiting for its slot then never starts.
   */
  function callerGone(call: UnaryCall<unknown>): { signal: AbortSignal; dispose(): void } {
    const controller = new AbortController();
    const onCancelled = (): void => controller.abort(new Error('the caller cancelled the call, or its deadline passed, before it started'));
    if (call.cancelled === true) onCancelled();
    else call.on?.('cancelled', onCancelled);
    return { signal: controller.signal, dispose: () => void call.removeListener?.('cancelled', onCancelled) };
  }

  /** Runs `work` under the held lease, or answers why not. */
  async function serve<Q, R>(call: UnaryCall<Q>, callback: Callback<R>, work: (tokenHeld: number) => Promise<R>): Promise<void> {
    const held = lease.current;
    if (stopped || held === undefined || !held.isValid()) {
      callback({
        code: GrpcStatus.UNAVAILABLE,
        details: 'not active, not executed',
        metadata: answerMetadata(lease.state.token === undefined ? undefined : lease.state.token, {
          [GrpcMetadataKeys.error]: 'NOT_ACTIVE',
          [GrpcMetadataKeys.pushback]: String(pushbackMs),
        }),
      });
      return;
    }
    const token = held.token;
    let beforeCommit = true;
    try {
      const result = await work(token).then((r) => {
        beforeCommit = false;
        return r;
      });
      call.sendMetadata(answerMetadata(token));
      callback(null, result);
    } catch (error) {
      if (error instanceof InvalidRequest) {
        callback({ code: GrpcStatus.INVALID_ARGUMENT, details: error.message, metadata: answerMetadata(token) });
      } else if (error instanceof CommitAbandonedError || (!beforeCommit && !certifiesNotCommitted(error))) {
        callback({ code: GrpcStatus.UNKNOWN, details: 'commit outcome unknown', metadata: answerMetadata(token, { [GrpcMetadataKeys.error]: 'COMMIT_UNKNOWN' }) });
      } else {
        callback({ code: GrpcStatus.UNAVAILABLE, details: 'not executed', metadata: answerMetadata(token, { [GrpcMetadataKeys.error]: 'NOT_EXECUTED' }) });
      }
    }
  }

  function keyOf(metadata: Metadata): string | undefined {
    const value = metadata.get(GrpcMetadataKeys.idempotencyKey)[0];
    return typeof value === 'string' && value.length > 0 && value.length <= 200 ? value : undefined;
  }

  const transfer = (call: UnaryCall<GrpcTransferRequest>, callback: Callback<GrpcTransferReply>): void => {
    void serve(call, callback, async (token) => {
      const r = call.request ?? ({} as GrpcTransferRequest);
      const from = text(r.from, 'from');
      const to = text(r.to, 'to');
      const ref = text(r.ref, 'ref');
      if (typeof r.amount !== 'number' || !Number.isSafeInteger(r.amount) || r.amount <= 0) throw new InvalidRequest('amount must be a positive integer');
      const key = keyOf(call.metadata);
      const held = lease.current;
      if (held === undefined || held.token !== token) throw new Error('lease changed');
      // The work runs inside the transaction; the outcome is "before commit" until it resolves.
      // A wait for a slot ends when the lease term does, or the caller is gone (not executed).
      const gone = callerGone(call);
      try {
        return await slots.run(AbortSignal.any([held.signal, gone.signal]), () => store.transaction(
          async (tx) => {
            await store.assertHeld(tx, lease.name, token);
            if (key !== undefined) {
              const stored = await tx.query(`SELECT id, ref, token FROM ${app.entriesTable} WHERE idem_key = ?`, [key]);
              const row = stored[0];
              if (row !== undefined) return { ref: String(row.ref), id: toNumber(row.id), token: toNumber(row.token), replayed: true };
            }
            const insert = `INSERT INTO ${app.entriesTable} (ref, idem_key, from_account, to_account, amount, token) VALUES (?, ?, ?, ?, ?, ?)`;
            const values = [ref, key ?? null, from, to, r.amount, token];
            let ids: Record<string, unknown>[];
            if (tx.dialect === 'mysql') {
              await tx.execute(insert, values);
              ids = await tx.query('SELECT LAST_INSERT_ID() AS id');
            } else {
              ids = await tx.query(`${insert} RETURNING id`, values);
            }
            await tx.execute(upsertAdd(tx.dialect, app.accountsTable, 'account', 'balance'), [from, -r.amount]);
            await tx.execute(upsertAdd(tx.dialect, app.accountsTable, 'account', 'balance'), [to, r.amount]);
            executed += 1;
            return { ref, id: toNumber(ids[0]?.id), token, replayed: false };
          },
          { signal: held.signal },
        ));
      } finally {
        gone.dispose();
      }
    });
  };

  const balance = (call: UnaryCall<GrpcBalanceRequest>, callback: Callback<GrpcBalanceReply>): void => {
    void serve(call, callback, async () => {
      const account = text(call.request?.account, 'account');
      const rows = await slots.run(noAbort, () => store.transaction((tx) => tx.query(`SELECT balance FROM ${app.accountsTable} WHERE account = ?`, [account])));
      return { account, balance: rows[0] ? toNumber(rows[0].balance) : 0 };
    });
  };

  const ping = (call: UnaryCall<Record<string, never>>, callback: Callback<GrpcPingReply>): void => {
    void serve(call, callback, (token) => Promise.resolve({ node: machine, token }));
  };

  const check = (call: UnaryCall<HealthCheckRequest>, callback: Callback<HealthCheckResponse>): void => {
    const held = lease.current;
    const serving = !stopped && held !== undefined && held.isValid();
    const service = call.request?.service ?? '';
    if (service !== '' && service !== 'hotcold.testing.Ledger') {
      callback({ code: GrpcStatus.NOT_FOUND, details: 'unknown service', metadata: new grpc.Metadata() });
      return;
    }
    call.sendMetadata(answerMetadata(serving ? held.token : undefined));
    callback(null, { status: serving ? ServingStatus.SERVING : ServingStatus.NOT_SERVING });
  };

  const server = new grpc.Server();
  server.addService(ledgerGrpcService, { transfer, balance, ping });
  server.addService(healthGrpcService, { check });
  const bound = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${host}:${port}`, grpc.ServerCredentials.createInsecure(), (error, boundPort) => (error ? reject(error) : resolve(boundPort)));
  });

  // Hold the lease until stopped: acquire, serve until it is lost or released, acquire again.
  const holding = (async (): Promise<void> => {
    while (!standDown.signal.aborted) {
      try {
        const held = await lease.acquire({ signal: standDown.signal });
        const over = AbortSignal.any([held.signal, standDown.signal]);
        await new Promise<void>((resolve) => {
          if (over.aborted) resolve();
          else over.addEventListener('abort', () => resolve(), { once: true });
        });
      } catch {
        // Aborted by stop/release (the loop ends), or a store failure: try again shortly.
        await sleep(100, standDown.signal).catch(() => undefined);
      }
    }
  })();

  let stopPromise: Promise<void> | undefined;
  return {
    port: bound,
    address: `${host}:${bound}`,
    node: machine,
    get executed() {
      return executed;
    },
    async release() {
      standDown.abort();
      await lease.release();
      await holding;
    },
    stop() {
      stopPromise ??= (async () => {
        stopped = true;
        standDown.abort();
        await lease.release().catch(() => undefined);
        await holding;
        await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      })();
      return stopPromise;
    },
  };
}
