/**
 * `hotcold/node`: the reference JSON-RPC node that serves only while it holds the lease, runs
 * every call in one fenced transaction with its idempotency record and feed events, and drains
 * gracefully. Guides: docs/node.md, docs/feeds.md.
 *
 * @module hotcold/node
 */
export { createNode } from './node.js';
export { systemClock } from './node-clock.js';
export type { NodeClock } from './node-clock.js';
export type { NotExecutedBody, CommitUnknownBody } from './node-answers.js';
export { RpcError, invalidParams } from './rpc-error.js';
export { defaultIdentify } from './identify.js';
export { dedupDdl, canonicalJson, fingerprint } from './dedup-store.js';
export { feedDdl } from './feed-store.js';
export type { FeedItem } from './feed-store.js';
export type {
  DedupOptions,
  FeedOptions,
  Handler,
  HandlerContext,
  Handlers,
  HotcoldNode,
  MetricsOptions,
  NodeAddress,
  NodeEvent,
  NodeOptions,
  NodeState,
  RequestOutcome,
  StopOptions,
} from './types.js';
export { ConfigurationError } from '../errors.js';
export type { TelemetryOptions } from '../shared/telemetry.js';
export { FEED_METHOD, HOTCOLD_KEY_CONFLICT, HOTCOLD_LEASE_LOST } from '../wire.js';
export type { HealthBody, NodeStatus } from '../wire.js';
export type { Logger, LogLevel } from '../shared/logger.js';
