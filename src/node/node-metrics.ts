import type { Attributes, BatchObservableCallback, Counter, Histogram, Meter, ObservableGauge, UpDownCounter } from '@opentelemetry/api';
import type { NodeState } from './types.js';
import { observeUntilFinished } from '../shared/final-observation.js';

/**
 * The node's OpenTelemetry instruments (docs/observability.md "Node"). Created on a meter handed
 * in by {@link NodeMetrics.bind}: at once for the global or the given provider, or at `start()`
 * when the node serves its own Prometheus endpoint (whose SDK is imported only then). Until bound
 * every record is a no-op, and nothing is recorded before the node listens anyway.
 *
 * `rpc.server.call.duration`, `rpc.system.name`, `rpc.method` and `error.type` follow the
 * OpenTelemetry RPC semantic conventions (stable, semconv 1.45: durations in seconds, an unknown
 * method is `_OTHER` so a caller cannot blow up the number of series).
 */

/**
 * What a node answered to one `POST /rpc`:
 * - `ok`: the call committed and its result was sent;
 * - `replayed`: a repeat of an `Idempotency-Key` got the stored result (a dedup hit; nothing ran);
 * - `key_conflict`: the key was used with other params or by another caller (nothing ran);
 * - `app_error`: the handler answered a JSON-RPC error (rolled back);
 * - `invalid_request`: refused before executing (unparsable JSON-RPC, unknown method, bad header, body too large);
 * - `internal_error`: the node failed before executing (`identify()` threw);
 * - `NOT_ACTIVE`, `NOT_EXECUTED`, `EXPIRED`, `COMMIT_UNKNOWN`: the wire's answers (docs/wire.md).
 */
export type NodeCallOutcome =
  | 'ok'
  | 'replayed'
  | 'key_conflict'
  | 'app_error'
  | 'invalid_request'
  | 'internal_error'
  | 'NOT_ACTIVE'
  | 'NOT_EXECUTED'
  | 'EXPIRED'
  | 'COMMIT_UNKNOWN';

/** How a feed long-poll ended: answered (`ok`, also when a stop ended it empty), refused, or the caller left (`closed`). */
export type FeedPollOutcome = 'ok' | 'invalid_request' | 'NOT_ACTIVE' | 'NOT_EXECUTED' | 'EXPIRED' | 'closed';

/** The `rpc.method` of a request whose method is unknown or was never read (semconv's `_OTHER`). */
export const OTHER_METHOD = '_OTHER';

/** One `POST /rpc`, filled in by the router as it learns more; recorded when answered. */
export interface CallRecord {
  /** The JSON-RPC method when the node serves it, else {@link OTHER_METHOD}. */
  method: string;
  outcome: NodeCallOutcome;
  /** The JSON-RPC error code of an `app_error`, `invalid_request` or `internal_error`. */
  code?: number | undefined;
}

/** Attribute keys of the node instruments. */
export const NODE_ATTRIBUTES = {
  node: 'hotcold.node.name',
  outcome: 'hotcold.outcome',
  status: 'hotcold.node.status',
  dedupResult: 'hotcold.dedup.result',
  slotResult: 'hotcold.slot.result',
  rpcSystem: 'rpc.system.name',
  rpcMethod: 'rpc.method',
  errorType: 'error.type',
} as const;

const NODE_STATUSES: readonly NodeState['status'][] = ['active', 'standby', 'draining', 'lost', 'stopped'];

/** The semantic conventions' recommended buckets for `rpc.server.call.duration`, in seconds. */
const CALL_BUCKETS_S = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10];
/** Slot waits are usually zero; under load up to a caller's deadline. */
const SLOT_BUCKETS_S = [0, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Instruments {
  calls: Counter;
  duration: Histogram;
  dedupHits: Counter;
  slotWait: Histogram;
  slotWaits: Counter;
  pollsActive: UpDownCounter;
  polls: Counter;
  status: ObservableGauge;
}

export class NodeMetrics {
  private instruments: Instruments | undefined;
  private readonly base: Attributes;

  constructor(
    machine: string,
    /** The node's status for the status gauge, read at collection time. */
    private readonly status: () => NodeState['status'],
  ) {
    this.base = { [NODE_ATTRIBUTES.node]: machine };
  }

  /** Creates the instruments on `meter`; returns the undo (the status gauge is observed once more, then dropped). */
  bind(meter: Meter): () => void {
    const status = meter.createObservableGauge('hotcold.node.status', {
      description: 'What /health says: 1 for the current status (attribute hotcold.node.status), 0 for the others',
    });
    this.instruments = {
      calls: meter.createCounter('hotcold.node.calls', { description: 'JSON-RPC requests answered, by outcome', unit: '{call}' }),
      duration: meter.createHistogram('rpc.server.call.duration', {
        description: 'Time from a request\'s arrival to its answer',
        unit: 's',
        advice: { explicitBucketBoundaries: CALL_BUCKETS_S },
      }),
      dedupHits: meter.createCounter('hotcold.node.dedup.hits', {
        description: 'Calls whose Idempotency-Key was already recorded: the stored result was replayed, or the key conflicted',
        unit: '{call}',
      }),
      slotWait: meter.createHistogram('hotcold.node.transaction.slot.wait.duration', {
        description: 'Time a call waited for a transaction slot (maxConcurrentTransactions); 0 when one was free',
        unit: 's',
        advice: { explicitBucketBoundaries: SLOT_BUCKETS_S },
      }),
      slotWaits: meter.createCounter('hotcold.node.transaction.slot.waits', {
        description: 'Calls that found every transaction slot taken and had to queue',
        unit: '{call}',
      }),
      pollsActive: meter.createUpDownCounter('hotcold.node.feed.polls.active', { description: 'Feed long-polls open now', unit: '{poll}' }),
      polls: meter.createCounter('hotcold.node.feed.polls', { description: 'Feed long-polls ended, by outcome', unit: '{poll}' }),
      status,
    };
    const observe: BatchObservableCallback = (result) => {
      const current = this.status();
      for (const s of NODE_STATUSES) result.observe(status, s === current ? 1 : 0, { ...this.base, [NODE_ATTRIBUTES.status]: s });
    };
    const finish = observeUntilFinished(meter, observe, [status]);
    return () => {
      finish();
      this.instruments = undefined;
    };
  }

  /** One answered `POST /rpc` that took `durationMs`. */
  call(record: CallRecord, durationMs: number): void {
    const i = this.instruments;
    if (!i) return;
    const attributes: Attributes = {
      ...this.base,
      [NODE_ATTRIBUTES.rpcSystem]: 'jsonrpc',
      [NODE_ATTRIBUTES.rpcMethod]: record.method,
      [NODE_ATTRIBUTES.outcome]: record.outcome,
    };
    const errorType = errorTypeOf(record);
    if (errorType !== undefined) attributes[NODE_ATTRIBUTES.errorType] = errorType;
    i.calls.add(1, attributes);
    i.duration.record(Math.max(0, durationMs) / 1000, attributes);
    if (record.outcome === 'replayed' || record.outcome === 'key_conflict') {
      i.dedupHits.add(1, { ...this.base, [NODE_ATTRIBUTES.rpcMethod]: record.method, [NODE_ATTRIBUTES.dedupResult]: record.outcome });
    }
  }

  /** A call got its transaction slot (or gave up waiting) after `waitedMs`; `queued`: no slot was free. */
  slot(waitedMs: number, queued: boolean, granted: boolean): void {
    const i = this.instruments;
    if (!i) return;
    const attributes = { ...this.base, [NODE_ATTRIBUTES.slotResult]: granted ? 'granted' : 'abandoned' };
    i.slotWait.record(Math.max(0, waitedMs) / 1000, attributes);
    if (queued) i.slotWaits.add(1, attributes);
  }

  /** A feed long-poll began; returns its end, to call once with how it ended. */
  pollStarted(): (outcome: FeedPollOutcome) => void {
    const i = this.instruments;
    i?.pollsActive.add(1, this.base);
    let ended = false;
    return (outcome) => {
      if (ended || !i) return;
      ended = true;
      i.pollsActive.add(-1, this.base);
      i.polls.add(1, { ...this.base, [NODE_ATTRIBUTES.outcome]: outcome });
    };
  }
}

/** `error.type` per the semantic conventions: the wire's error name, or the JSON-RPC error code. */
function errorTypeOf(record: CallRecord): string | undefined {
  switch (record.outcome) {
    case 'ok':
    case 'replayed':
      return undefined;
    case 'key_conflict':
    case 'app_error':
    case 'invalid_request':
    case 'internal_error':
      return record.code === undefined ? record.outcome : String(record.code);
    default:
      return record.outcome;
  }
}
