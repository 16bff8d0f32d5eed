import { BehaviorSubject, Subject } from 'rxjs';
import type { HeldLease, Lease } from '../lease/types.js';
import type { NodeStatus } from '../wire.js';
import type { NodeClock } from './node-clock.js';
import type { Log } from '../shared/logger.js';
import type { SecretScope } from '../shared/redact.js';
import type { NodeEvent, NodeState } from './types.js';

/**
 * What the node is right now (active, standby, draining, lost, stopped), derived from the lease
 * and the lifecycle flags, and published on `state$`/`events$`. Every part of the node asks here
 * whether it may act.
 */
export class NodeStatusTracker {
  readonly state$: BehaviorSubject<NodeState>;
  readonly events$ = new Subject<NodeEvent>();
  /** The token we serve (or last served) under. */
  servedToken: number | undefined;
  draining = false;
  stopping = false;
  stopped = false;

  constructor(
    private readonly lease: Lease,
    private readonly clock: NodeClock,
    /** The machine name this node answers under (`X-Hotcold-Node`). */
    readonly machine: string,
    private readonly log: Log,
    /** The store's literal secrets, scrubbed from every event's text. */
    private readonly secrets?: SecretScope,
  ) {
    this.state$ = new BehaviorSubject<NodeState>({ status: 'standby', since: clock.now() });
  }

  /** The held lease if this node may execute a call right now (checked synchronously). */
  activeLease(): HeldLease | undefined {
    if (this.draining || this.stopping) return undefined;
    const held = this.lease.current;
    return held !== undefined && held.isValid() ? held : undefined;
  }

  status(): NodeState['status'] {
    if (this.stopped) return 'stopped';
    if (this.draining) return 'draining';
    if (this.stopping) return 'lost';
    if (this.activeLease()) return 'active';
    return this.lease.state.status === 'lost' ? 'lost' : 'standby';
  }

  /** The status as the wire knows it (a stopped node is draining to the balancer). */
  wireStatus(): NodeStatus {
    const status = this.status();
    return status === 'stopped' ? 'draining' : status;
  }

  /** Whether anyone takes request records (so that a node nobody watches builds none). */
  get recordingRequests(): boolean {
    return this.log.enabled || this.events$.observed;
  }

  emit(event: NodeEvent): void {
    const scrubbed = this.scrub(event);
    if (this.log.enabled) logNodeEvent(this.log, scrubbed);
    this.events$.next(scrubbed);
  }

  /**
   * The event with the store's literal secrets (a connection string's password) scrubbed from its
   * texts, as the lease does for its own: the patterns of describeError() catch a password in a
   * URL, not one a driver's or a handler's error quotes on its own.
   */
  private scrub(event: NodeEvent): NodeEvent {
    const scope = this.secrets;
    if (scope === undefined || scope.empty) return event;
    if ('error' in event) return { ...event, error: scope.text(event.error) };
    if ('reason' in event) return { ...event, reason: scope.text(event.reason) };
    return event;
  }

  publish(): void {
    const status = this.status();
    const last = this.state$.getValue();
    if (last.status === status && last.token === this.servedToken) return;
    if (last.status === 'active' && (status === 'lost' || status === 'standby') && !this.stopping && !this.log.enabled && !this.state$.observed && !this.events$.observed) {
      // The lease was lost under a node nobody watches (the node itself watches the lease, so the
      // lease stays quiet): one stderr line, or the node would stop serving without a word.
      this.log.fault('error', { node: this.machine, epoch: this.servedToken, status }, 'lease lost; the node stopped serving');
    }
    this.state$.next({ status, token: this.servedToken, since: this.clock.now() });
    this.emit({ type: 'status', status, token: this.servedToken });
  }

  complete(): void {
    this.state$.complete();
    this.events$.complete();
  }
}

/** Each node event's log record (the events carry redacted text only). */
function logNodeEvent(log: Log, event: NodeEvent): void {
  switch (event.type) {
    case 'request': {
      const { type: _type, ...fields } = event;
      log.info(fields, 'request');
      return;
    }
    case 'listening':
      log.info({ port: event.port, host: event.host }, 'listening');
      return;
    case 'status':
      log.info({ status: event.status, epoch: event.token }, 'node status changed');
      return;
    case 'handler-error':
      log.error({ method: event.method, error: event.error }, 'handler failed');
      return;
    case 'rolled-back':
      log.info({ method: event.method, reason: event.reason }, 'call rolled back; not executed');
      return;
    case 'commit-unknown':
      log.error({ method: event.method, error: event.error }, 'commit unknown; the call may have executed');
      return;
    case 'cleanup':
      log.debug({ deleted: event.deleted }, 'expired idempotency records deleted');
      return;
    case 'cleanup-failed':
      log.warn({ error: event.error }, 'idempotency cleanup failed; retried next interval');
      return;
    case 'acquire-failed':
      if (event.permanent === true) log.error({ error: event.error, permanent: true }, 'lease store misconfigured; the node stopped contending');
      else log.warn({ error: event.error }, 'acquiring the lease failed; retrying');
      return;
  }
}
