/**
 * The connection state machine's public types (DESIGN §3, §4): its states, the outage callbacks'
 * arguments and the events every pipeline emits — whatever protocol its adapter speaks. The
 * JSON-RPC client re-exports them under their historical names (`ClientEvent` is
 * {@link PolicyEvent}).
 */
import type { RPCExceptionKind } from '../errors.js';

/**
 * Where the connection stands: `connecting` before the first answer, `connected` while calls are
 * answered, `reconnecting` during an outage, `failed` once `maxReconnectAttempts` health probes of
 * one outage found no service (the held calls fail), `closed` after `close()`.
 */
export type ConnectionStatus = 'connecting' | 'connected' | 'reconnecting' | 'failed' | 'closed';

/** What `state$` replays and emits on every status change. */
export interface ConnectionState {
  /** The current status. */
  status: ConnectionStatus;
  /** The node that last answered (its `X-Hotcold-Node` header), when one has. */
  node?: string | undefined;
  /** That node's lease epoch (its `X-Hotcold-Epoch` fencing token), when it sent one. */
  epoch?: number | undefined;
  /** Wall-clock time (ms since epoch) the status was entered. */
  since: number;
}

/** One side of a failover: which node answered, under which lease epoch. */
export interface NodeIdentity {
  /** The node's name (`X-Hotcold-Node`), `undefined` when it sent none. */
  node: string | undefined;
  /** The node's lease epoch (`X-Hotcold-Epoch`), `undefined` when it sent none. */
  epoch: number | undefined;
}

/** Corda GracefulReconnect parity: what a callback learns about an outage. */
export interface DisconnectInfo {
  /** Kind and (redacted) message of the failure that started the outage. */
  reason: {
    /** The failure's class (`RPCException.kind`), or `probe` when a health probe saw it first. */
    kind: RPCExceptionKind | 'probe';
    /** The redacted message. */
    message: string;
  };
  /** The last node that answered before the outage, when one had. */
  node?: string | undefined;
  /** That node's lease epoch, when it sent one. */
  epoch?: number | undefined;
}

/** What `onReconnect` learns when service resumes after an outage. */
export interface ReconnectInfo {
  /** How long calls went unanswered, in ms (from the first failure to the first good answer). */
  outageMs: number;
  /** The node that answers now, when it names itself. */
  node?: string | undefined;
  /** Its lease epoch, when it sent one. */
  epoch?: number | undefined;
}

/** What `onPermanentFailure` learns when `maxReconnectAttempts` probes of one outage found no service. */
export interface PermanentFailureInfo {
  /** How long the outage lasted before hotcold gave up, in ms. */
  outageMs: number;
  /** Health probes (or, without a probe, trial calls) made during the outage. */
  attempts: number;
}

/** What `failover$` emits when the answering node or its epoch changes (DESIGN §3). */
export interface FailoverEvent {
  /** The node (and epoch) that answered before. */
  from: NodeIdentity;
  /** The node (and epoch) that answers now. */
  to: NodeIdentity;
  /** Time without service before the new node answered (0 when no outage was seen), in ms. */
  outageMs: number;
}

/** What `reconnected$` emits when service resumes after an outage. */
export interface ReconnectedEvent {
  /** How long calls went unanswered, in ms. */
  outageMs: number;
  /** The node that answers now, when it names itself. */
  node?: string | undefined;
  /** Its lease epoch, when it sent one. */
  epoch?: number | undefined;
}

/** A failure as events carry it: its kind and redacted message, never the request. */
export interface ErrorSummary {
  /** The failure's class, as `RPCException.kind` names it. */
  kind: RPCExceptionKind;
  /** The redacted message (no credentials, no params). */
  message: string;
  /** Whether the operation may have run on a node (false only when hotcold knows it did not). */
  mayHaveExecuted: boolean;
}

/** What moved a breaker, with the backend (no userinfo) and the node it guards. */
export interface BreakerChange {
  /** The backend URL the breaker guards, without userinfo. */
  backend: string;
  /** The node last seen behind that backend, when known. */
  node?: string | undefined;
  /** That node's lease epoch, when known. */
  epoch?: number | undefined;
  /**
   * Why the breaker moved: `failures` (threshold reached, opened), `reset-timeout` (half-open
   * after `breaker.resetTimeoutMs`), `trial-succeeded` / `trial-failed` (the half-open trial's
   * result), `identity-changed` (a new node or epoch answered: closed, DESIGN §3).
   */
  cause: 'failures' | 'reset-timeout' | 'trial-succeeded' | 'trial-failed' | 'identity-changed';
}

/**
 * Everything a pipeline reports on `events$`. `method` is the operation's name (a JSON-RPC
 * method, a REST route, a gRPC method).
 */
export type PolicyEvent =
  | {
      /** An attempt is sent. */
      type: 'attempt';
      /** The operation's name. */
      method: string;
      /** 1 for the first attempt. */
      attempt: number;
      /** The backend URL it goes to, without userinfo. */
      backend: string;
    }
  | {
      /** An attempt failed and another follows after `delayMs`. */
      type: 'retry';
      /** The operation's name. */
      method: string;
      /** The attempt that failed (1 for the first). */
      attempt: number;
      /** The wait before the next attempt, in ms. */
      delayMs: number;
      /** The failure that caused the retry. */
      error: ErrorSummary;
    }
  | ({
      /** A breaker opened: calls to its backend fail fast (`CircuitOpenException`). */
      type: 'breaker-open';
    } & BreakerChange)
  | ({
      /** A breaker lets one trial call through. */
      type: 'breaker-half-open';
    } & BreakerChange)
  | ({
      /** A breaker closed again. */
      type: 'breaker-close';
    } & BreakerChange)
  | {
      /** The retry budget refused a retry: the failure is surfaced instead. */
      type: 'budget-exhausted';
      /** The operation's name. */
      method: string;
      /** The attempt whose retry was refused. */
      attempt: number;
    }
  | {
      /** The connection status changed. */
      type: 'state';
      /** The new state. */
      state: ConnectionState;
    }
  | {
      /** An outage began. */
      type: 'disconnected';
      /** The failure that started it. */
      reason: DisconnectInfo['reason'];
    }
  | {
      /** A health probe ran during an outage. */
      type: 'probe';
      /** The backend URL probed, without userinfo. */
      backend: string;
      /** 1 for the outage's first probe. */
      attempt: number;
      /** Whether the backend reported an active node. */
      ok: boolean;
      /** The HTTP (or protocol) status, when one came back. */
      status?: number | undefined;
    }
  | ({
      /** Service resumed after an outage. */
      type: 'reconnected';
    } & ReconnectedEvent)
  | ({
      /** The answering node or its epoch changed. */
      type: 'failover';
    } & FailoverEvent)
  | ({
      /** `maxReconnectAttempts` probes found no service: the held calls fail, the status is `failed`. */
      type: 'permanent-failure';
    } & PermanentFailureInfo)
  | {
      /** Calls now go to this backend (with several `urls`, the one that answered a probe). */
      type: 'active-backend';
      /** The backend URL, without userinfo. */
      backend: string;
    };

/** The `type` of every {@link PolicyEvent}. */
export type PolicyEventType = PolicyEvent['type'];
