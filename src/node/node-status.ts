import { BehaviorSubject, Subject } from 'rxjs';
import type { HeldLease, Lease } from '../lease/types.js';
import type { NodeStatus } from '../wire.js';
import type { NodeClock } from './node-clock.js';
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

  emit(event: NodeEvent): void {
    this.events$.next(event);
  }

  publish(): void {
    const status = this.status();
    const last = this.state$.getValue();
    if (last.status === status && last.token === this.servedToken) return;
    this.state$.next({ status, token: this.servedToken, since: this.clock.now() });
    this.events$.next({ type: 'status', status, token: this.servedToken });
  }

  complete(): void {
    this.state$.complete();
    this.events$.complete();
  }
}
