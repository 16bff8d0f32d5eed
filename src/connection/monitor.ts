/**
 * The connection state machine (DESIGN §3):
 *
 *   connecting → connected → reconnecting → connected … → closed
 *                                 └→ failed (maxReconnectAttempts spent; calls go direct again)
 *
 * It is fed by call outcomes (the pipeline reports answers and connection-class failures) and,
 * while reconnecting, by its own health probes with a short capped backoff. Calls made while
 * reconnecting are held here instead of hammering the balancer, and released the moment a probe
 * (or any call) shows service is back. One outage produces exactly one `disconnected` and then
 * either one `reconnected` or one `permanent-failure`, however many calls failed during it: an
 * outage is identified by a generation number, and failures reported against an older
 * generation (calls that started before the last recovery) are ignored.
 *
 * Giving up reaches every call of the outage wherever it waits: held calls are released with
 * 'failed', and {@link ConnectionMonitor.giveUpSignal} aborts (reason: RetriesExhausted
 * 'reconnect') for calls asleep in their retry backoff or waiting for an open breaker; a call
 * that was underway when the client gave up sends nothing more ({@link ConnectionMonitor.gaveUpSince}).
 */
import { setMaxListeners } from 'node:events';
import { BehaviorSubject } from 'rxjs';
import { RetriesExhaustedException, type RPCException } from '../errors.js';
import { monotonicNow } from '../shared/clock.js';
import { backendLabel, redactText } from '../shared/redact.js';
import { sleep } from '../shared/sleep.js';
import { setTimer, type TimerHandle } from '../shared/timer.js';
import type {
  ConnectionState,
  ConnectionStatus,
  DisconnectInfo,
  FailoverEvent,
  NodeIdentity,
  PermanentFailureInfo,
  PolicyEvent,
  ReconnectInfo,
  ReconnectedEvent,
} from './types.js';
import { IdentityTracker } from './identity.js';
import { nextBackoffDelay } from '../policy/backoff.js';

/** Outages remembered for {@link ConnectionMonitor.outageConfirmed}: a call asks about the one it waited in. */
const CONFIRMED_OUTAGES_KEPT = 16;

export interface MonitorOptions {
  /** One URL (a balancer) or several (an address pool probed for the active member). */
  backends: readonly string[];
  /** Backend labels for events (without userinfo, query or fragment); default: the backends so labelled. */
  labels?: readonly string[] | undefined;
  /**
   * Asks one backend whether a node serves there (`ok`), and who (`node`, `epoch`). Rejects when
   * it cannot tell (no answer). Without a probe the monitor recovers through trial calls: a held
   * call is released alone, and its outcome decides (see {@link ConnectionMonitor.trialFailed}).
   */
  probe?: ((backend: string, options: { timeoutMs: number; signal: AbortSignal }) => Promise<MonitorProbeResult>) | undefined;
  minDelayMs: number;
  maxDelayMs: number;
  probeTimeoutMs: number;
  maxReconnectAttempts: number;
  maxPending: number;
  emit: (event: PolicyEvent) => void;
  /** Whether anyone listens to events (so the success path builds none when nobody does). */
  listening: () => boolean;
  onFailover: (event: FailoverEvent) => void;
  onReconnected: (event: ReconnectedEvent) => void;
  /** The serving identity changed: the breaker's history of the old node must be dropped. */
  onIdentityChange: (backend: string, identity: NodeIdentity) => void;
  onDisconnect?: ((info: DisconnectInfo) => void) | undefined;
  onReconnect?: ((info: ReconnectInfo) => void) | undefined;
  onPermanentFailure?: ((info: PermanentFailureInfo) => void) | undefined;
  /** A user callback (`onDisconnect`, …) threw: the state machine goes on; this reports it. */
  onCallbackError?: ((callback: string, error: unknown) => void) | undefined;
  /** A probe threw (no answer, a timeout): counted as a failed probe; this reports why. */
  onProbeError?: ((backend: string, error: unknown) => void) | undefined;
  /** Back-pressure: probes wait for a backend's "not before" time, and a probe's 429 sets it. */
  pacing?: ProbePacing | undefined;
  /** An outage ended with the give-up (maxReconnectAttempts spent), after `outageMs` ms (telemetry). */
  onGaveUp?: ((outageMs: number) => void) | undefined;
  /** A call entered (+1) or left (−1) the hold (telemetry: held calls). */
  onHeld?: ((delta: 1 | -1) => void) | undefined;
}

/** The part of the client's per-backend pacing the probes use (see connection/pacing.ts). */
export interface ProbePacing {
  wait(backend: string, signal: AbortSignal): Promise<void>;
  defer(backend: string, delayMs: number): void;
}

/** A probe's answer as the monitor uses it (see `ProbeResult` in pipeline/types.ts). */
export interface MonitorProbeResult {
  ok: boolean;
  node?: string | undefined;
  epoch?: number | undefined;
  retryAfterMs?: number | undefined;
  status?: number | undefined;
  /** The node deduplicates by idempotency key in its term (used by the dedup proof). */
  dedup?: boolean | undefined;
  /**
   * The server answered and asked for a pause (HTTP 429, gRPC RESOURCE_EXHAUSTED with pushback):
   * alive, so the probe failed nothing, and found no service either.
   */
  backPressure?: boolean | undefined;
}

/**
 * How a held call's wait ended. The caller builds the error, as it knows the call's history.
 * `trial`: service is not back, but this call is released alone to find out (no probe).
 */
export type WaitOutcome = 'ready' | 'trial' | 'deadline' | 'aborted' | 'closed' | 'failed' | 'full';

interface Waiter {
  settle: (outcome: WaitOutcome) => void;
}

/** A trial call of an outage without a probe (see ConnectionMonitor.trialOnce). */
interface Trial {
  generation: number;
  released: boolean;
  start(): void;
  /**
   * `paced`: the trial was answered with back-pressure (a 429): no verdict. `abandoned`: its
   * caller ended the call before any outcome (its own abort, its deadline): no verdict either.
   */
  end(outcome?: 'failed' | 'paced' | 'abandoned'): void;
}

/**
 * One round of probes: the member found serving, `paced` (asked for a pause, none serving),
 * `abandoned` (a trial its caller ended: nothing learned), or undefined (failed).
 */
type ProbeRound = { index: number; health: MonitorProbeResult } | 'paced' | 'abandoned' | undefined;

export class ConnectionMonitor {
  readonly state$: BehaviorSubject<ConnectionState>;
  private readonly identity = new IdentityTracker();
  private readonly waiters = new Set<Waiter>();
  private statusValue: ConnectionStatus = 'connecting';
  private activeIndex = 0;
  private generationValue = 0;
  private outageStart = 0;
  /** Probes made in this outage (their backoff and their events count them all). */
  private outageProbes = 0;
  /** Probes of this outage that failed: a probe answered with back-pressure is not one. */
  private failedProbes = 0;
  private outageCause: RPCException | undefined;
  private probeAbort: AbortController | undefined;
  private probing: Promise<void> | undefined;
  /** Aborted at the next give-up; created on demand (only failing calls ask for it). */
  private giveUpAbort: AbortController | undefined;
  /** The generation a give-up moved to; calls started before it belong to a given-up outage. */
  private gaveUpGeneration = Number.NEGATIVE_INFINITY;
  /** Generations of the latest outages in which a health probe failed (a short ring). */
  private readonly confirmed: number[] = [];
  /**
   * A suspected outage: calls are held and a probe checks the path, but nothing is announced
   * (state, `disconnected`, onDisconnect) unless a probe fails. A single cut connection on a
   * healthy path costs one probe, not a disconnect/reconnect pair.
   */
  private suspect: DisconnectInfo['reason'] | undefined;
  /** The outstanding trial of an outage without a probe. */
  private trial: Trial | undefined;

  /** The backends as events show them: without userinfo. */
  readonly labels: readonly string[];

  constructor(private readonly options: MonitorOptions) {
    this.labels = options.labels ?? options.backends.map((b) => backendLabel(b));
    this.state$ = new BehaviorSubject<ConnectionState>({ status: 'connecting', since: Date.now() });
  }

  get status(): ConnectionStatus {
    return this.statusValue;
  }

  /** Calls should wait for service instead of being sent. */
  get holding(): boolean {
    return this.statusValue === 'reconnecting' || this.suspect !== undefined;
  }

  /** {@link backend} without userinfo, for events. */
  get label(): string {
    return this.labels[this.activeIndex] as string;
  }

  /** The backend calls go to: the balancer, or the pool member found active. */
  get backend(): string {
    return this.options.backends[this.activeIndex] as string;
  }

  /** Changes whenever an outage starts or ends; attempts remember it to spot stale reports. */
  get generation(): number {
    return this.generationValue;
  }

  get pending(): number {
    return this.waiters.size;
  }

  get lastCause(): RPCException | undefined {
    return this.outageCause;
  }

  /**
   * Aborts when the client gives up reconnecting, with a `RetriesExhaustedException('reconnect')`
   * as its reason. A call links its waits (backoff sleep, breaker wait, hold) to it once it
   * failed, so a give-up ends it at once instead of after its backoff or at its deadline.
   */
  get giveUpSignal(): AbortSignal {
    if (this.giveUpAbort === undefined) {
      this.giveUpAbort = new AbortController();
      setMaxListeners(0, this.giveUpAbort.signal);
    }
    return this.giveUpAbort.signal;
  }

  /**
   * The outage of `generation` was real — a health probe failed during it, or service came back
   * under a new identity (a failover) — so calls held through it were paced by the probes, not
   * by a flaky server's own answers (see "which retries cost budget" in policy/retry.ts).
   */
  outageConfirmed(generation: number): boolean {
    return this.confirmed.includes(generation);
  }

  /** The client gave up reconnecting after `generation` (read when a call started): the call must send nothing more. */
  gaveUpSince(generation: number): boolean {
    return this.gaveUpGeneration > generation;
  }

  /** The answer's identity is the one already known to be serving (cheap, per call). */
  isServing(node: string | undefined, epoch: number | undefined): boolean {
    return this.identity.isSame(node, epoch);
  }

  /**
   * Connected, nothing suspected, and the answer's identity is the one serving: an answer that
   * changes nothing here ({@link reportAnswer} would return at once). The success path's check.
   */
  isSettledOn(node: string | undefined, epoch: number | undefined): boolean {
    return this.statusValue === 'connected' && this.suspect === undefined && this.identity.isSame(node, epoch);
  }

  /**
   * An answer came from an active node (a result or a JSON-RPC error: either way it executed)
   * to an attempt started in `generation`. Kept cheap: the success path calls it once per call.
   */
  reportAnswer(node: string | undefined, epoch: number | undefined, generation: number): void {
    if (this.statusValue === 'connected' && this.suspect === undefined && this.identity.isSame(node, epoch)) return;
    if (this.statusValue === 'closed') return;
    if (this.suspect !== undefined) {
      this.announceIfFailover(node, epoch);
      // Only a call released during the suspicion (a trial, a dedup proof) can answer in its generation.
      this.observeIdentity(node, epoch);
      if (generation === this.generationValue) this.becomeConnected();
      return;
    }
    this.observeIdentity(node, epoch);
    // An answer to a request sent before the outage began (a dying node finishing its last
    // requests) does not show that service is back: only probes and newer attempts do.
    if (this.statusValue === 'reconnecting' && generation !== this.generationValue) return;
    if (this.statusValue !== 'connected') this.becomeConnected();
  }

  /** A connection-class failure (refused, a marked balancer 503, NOT_ACTIVE) on an attempt started in `generation`. */
  reportConnectionFailure(error: RPCException, generation: number): void {
    if (generation !== this.generationValue) return; // the outage it belongs to is already handled
    if (this.suspect !== undefined) return; // its probe decides
    const status = this.statusValue;
    if (status === 'failed') {
      this.nextMemberAfterGiveUp();
      return;
    }
    if (status === 'reconnecting' || status === 'closed') return;
    this.startOutage({ kind: error.kind, message: redactText(error.message) }, error, status === 'connected' && this.isOtherNode(error.node));
  }

  /**
   * After the give-up nothing probes, and calls go straight to the backend. In an address pool
   * that backend is the member last found active: if it is dead for good, or a standby now, a
   * call that could only reach it would never be answered while another member serves. So its
   * connection failure sends the next attempt to the next member (once per generation: the
   * failures of attempts sent before the move do not move again).
   */
  private nextMemberAfterGiveUp(): void {
    if (this.options.backends.length < 2) return;
    this.generationValue++;
    this.activeIndex = (this.activeIndex + 1) % this.options.backends.length;
  }

  /**
   * `node` answered, and it is not the node known to serve. Its own "not active" says nothing of
   * the serving node: a balancer without health checks (nginx, a plain round robin) offers calls
   * to the standby as a matter of course. Such an answer is checked with a probe, like a cut
   * connection, and announced as an outage only if the probe fails: otherwise every call offered
   * to the standby would be a disconnect/reconnect pair for the application.
   */
  private isOtherNode(node: string | undefined): boolean {
    const serving = this.identity.current.node;
    return node !== undefined && serving !== undefined && node !== serving;
  }

  /**
   * A failure without a node's answer where the path broke (the connection cut after the request
   * went out, a proxy's own 5xx) on an attempt started in `generation`: the node behind may be
   * gone. Calls are held while a probe checks; the outage is announced only if a probe fails.
   */
  reportPathLost(error: RPCException, generation: number): void {
    if (generation !== this.generationValue || this.holding) return;
    const status = this.statusValue;
    if (status === 'closed' || status === 'failed') return;
    this.startOutage({ kind: error.kind, message: redactText(error.message) }, error, true);
  }

  /**
   * Waits until service is back, bounded by `deadlineAt` (monotonic ms) and `signal`.
   * Resolves at once with 'ready' when not holding.
   */
  waitForService(deadlineAt: number, signal: AbortSignal | undefined): Promise<WaitOutcome> {
    if (!this.holding) {
      return Promise.resolve(this.statusValue === 'closed' ? 'closed' : 'ready');
    }
    if (signal?.aborted) return Promise.resolve('aborted');
    if (this.waiters.size >= this.options.maxPending) return Promise.resolve('full');
    const remaining = deadlineAt - monotonicNow();
    if (remaining <= 0) return Promise.resolve('deadline');
    return new Promise<WaitOutcome>((resolve) => {
      const onAbort = (): void => waiter.settle('aborted');
      // Node's timers run on the event loop's cached whole-millisecond clock, so one may fire a
      // moment before the monotonic clock reaches `deadlineAt`: re-arm for the rest, so a call
      // never ends with 'deadline' while its deadline has not passed (as Deadline.signal does).
      const onTimer = (): void => {
        const left = deadlineAt - monotonicNow();
        if (left > 0) timer = setTimer(onTimer, left);
        else waiter.settle('deadline');
      };
      let timer = setTimer(onTimer, remaining);
      const waiter: Waiter = {
        settle: (outcome) => {
          if (!this.waiters.delete(waiter)) return;
          this.options.onHeld?.(-1);
          timer.clear();
          signal?.removeEventListener('abort', onAbort);
          resolve(outcome);
        },
      };
      this.waiters.add(waiter);
      this.options.onHeld?.(1);
      signal?.addEventListener('abort', onAbort, { once: true });
      if (this.trial !== undefined) this.releaseTrial();
    });
  }

  async close(): Promise<void> {
    if (this.statusValue === 'closed') return;
    this.suspect = undefined;
    this.setStatus('closed');
    this.releaseWaiters('closed');
    this.probeAbort?.abort();
    await this.probing;
    this.state$.complete();
  }

  private startOutage(reason: DisconnectInfo['reason'], cause: RPCException | undefined, suspected = false): void {
    this.generationValue++;
    this.outageStart = monotonicNow();
    this.outageProbes = 0;
    this.failedProbes = 0;
    this.outageCause = cause;
    if (suspected) this.suspect = reason;
    else this.announce(reason);
    const abort = new AbortController();
    this.probeAbort = abort;
    this.probing = this.probeLoop(abort.signal).catch(() => undefined);
  }

  /**
   * A suspected outage that ends under another node, or a new term: the node the client was
   * settled on is gone and its calls were held across the change, so it was an outage (DESIGN
   * §3: `reconnected$` when service resumes after one), announced now, before the `failover`,
   * and ended by `reconnected`. A cut connection or a standby's NOT_ACTIVE on a healthy path (the
   * same node found serving) stays unannounced.
   */
  private announceIfFailover(node: string | undefined, epoch: number | undefined): void {
    const suspected = this.suspect;
    if (suspected === undefined || !this.identity.isFailover(node, epoch)) return;
    this.suspect = undefined;
    this.announce(suspected);
  }

  /** The outage becomes visible: state, `disconnected`, onDisconnect. */
  private announce(reason: DisconnectInfo['reason']): void {
    this.setStatus('reconnecting');
    const current = this.identity.current;
    const info: DisconnectInfo = { reason, node: current.node, epoch: current.epoch };
    this.options.emit({ type: 'disconnected', reason });
    safeCall(this.options.onDisconnect, info, 'onDisconnect', this.options.onCallbackError);
  }

  private async probeLoop(signal: AbortSignal): Promise<void> {
    while (!signal.aborted && this.holding) {
      this.outageProbes++;
      const found = this.options.probe !== undefined ? await this.probeOnce(signal) : await this.trialOnce(signal);
      if (signal.aborted || !this.holding) return;
      if (found === 'abandoned') {
        // The trial's caller left (cancelled, or its deadline came) before it told anything:
        // that is no probe at all. The next held call gets the trial, at once.
        this.outageProbes--;
        continue;
      }
      if (found === 'paced') {
        // The server answered and asked for a pause (a 429): it is alive, so this is no failed
        // probe — no outage is announced or confirmed for it and it does not count toward
        // maxReconnectAttempts (a rate-limited health check would otherwise give up on a live
        // server) — nor is it service found. The next probe waits for its Retry-After (pacing).
        try {
          await sleep(nextProbeDelay(this.outageProbes, this.options), signal);
        } catch {
          return;
        }
        continue;
      }
      if (found !== undefined) {
        if (found.index !== this.activeIndex) {
          this.activeIndex = found.index;
          this.options.emit({ type: 'active-backend', backend: this.labels[found.index] as string });
        }
        // Service is back under a new identity: a failover happened, so the outage was real even
        // if no probe failed (the standby took over before the first probe).
        this.announceIfFailover(found.health.node, found.health.epoch);
        if (this.observeIdentity(found.health.node, found.health.epoch)) this.markConfirmed();
        this.becomeConnected();
        return;
      }
      this.failedProbes++;
      if (this.failedProbes === 1) {
        // The path is really gone: a suspected outage is announced now.
        const suspected = this.suspect;
        this.suspect = undefined;
        if (suspected !== undefined) this.announce(suspected);
        this.markConfirmed();
      }
      if (this.failedProbes >= this.options.maxReconnectAttempts) {
        this.giveUp();
        return;
      }
      try {
        await sleep(nextProbeDelay(this.outageProbes, this.options), signal);
      } catch {
        return;
      }
    }
  }

  /** Probes the balancer (or every pool member at once); resolves with the first that serves. */
  private async probeOnce(signal: AbortSignal): Promise<ProbeRound> {
    const { backends, probeTimeoutMs } = this.options;
    const probe = this.options.probe as NonNullable<MonitorOptions['probe']>;
    const results = await Promise.all(
      backends.map(async (backend, index) => {
        let health: MonitorProbeResult | undefined;
        try {
          await this.options.pacing?.wait(backend, signal);
          health = await probe(backend, { timeoutMs: probeTimeoutMs, signal });
          if (!health.ok && health.retryAfterMs !== undefined) this.options.pacing?.defer(backend, health.retryAfterMs);
        } catch (error) {
          health = undefined;
          if (!signal.aborted) this.options.onProbeError?.(this.labels[index] as string, error);
        }
        const ok = health !== undefined && health.ok;
        if (this.options.listening()) {
          this.options.emit({ type: 'probe', backend: this.labels[index] as string, attempt: this.outageProbes, ok, status: health?.status });
        }
        if (ok) return { index, health: health as MonitorProbeResult };
        return health?.backPressure === true ? ('paced' as const) : undefined;
      }),
    );
    let best: { index: number; health: MonitorProbeResult } | undefined;
    let paced = false;
    for (const candidate of results) {
      if (candidate === undefined) continue;
      if (candidate === 'paced') {
        paced = true;
        continue;
      }
      // Two members claiming to be active: the higher fencing token is the legitimate holder.
      if (best === undefined || (candidate.health.epoch ?? -1) > (best.health.epoch ?? -1)) best = candidate;
    }
    // No member serves, and one asked for a pause: alive, wait for it (not a failed probe).
    return best ?? (paced ? 'paced' : undefined);
  }

  /**
   * Without a probe, a held call is the probe: one is released alone (a trial) and its outcome
   * decides — an answer ({@link reportAnswer}) ends the outage and releases every other held
   * call; a failure ({@link trialFailed}), or no outcome within `probeTimeoutMs`, counts as a
   * failed probe. With no call held there is nothing to try: the outage lasts until one comes.
   * In an address pool a failed trial moves the next one to the next member.
   */
  private trialOnce(signal: AbortSignal): Promise<ProbeRound> {
    return new Promise<ProbeRound>((resolve) => {
      let timer: TimerHandle | undefined;
      const onAbort = (): void => trial.end();
      const trial: Trial = {
        generation: this.generationValue,
        released: false,
        start: () => {
          timer = setTimer(() => trial.end(), this.options.probeTimeoutMs).unref();
        },
        end: (outcome = 'failed') => {
          if (this.trial !== trial) return;
          this.trial = undefined;
          timer?.clear();
          signal.removeEventListener('abort', onAbort);
          // Answered with back-pressure, the member is alive: the next trial goes to it again.
          if (outcome === 'failed' && !signal.aborted && this.holding && this.options.backends.length > 1) {
            this.activeIndex = (this.activeIndex + 1) % this.options.backends.length;
          }
          if (outcome === 'abandoned') {
            resolve('abandoned');
            return;
          }
          if (this.options.listening() && !signal.aborted) {
            this.options.emit({ type: 'probe', backend: this.label, attempt: this.outageProbes, ok: false });
          }
          resolve(outcome === 'paced' ? 'paced' : undefined);
        },
      };
      this.trial = trial;
      signal.addEventListener('abort', onAbort, { once: true });
      this.releaseTrial();
    });
  }

  /** Releases one held call as the trial of an outage without a probe, when one waits. */
  private releaseTrial(): void {
    const trial = this.trial;
    if (trial === undefined || trial.released) return;
    const first = this.waiters.values().next();
    if (first.done === true) return;
    trial.released = true;
    trial.start();
    first.value.settle('trial');
  }

  /**
   * An attempt sent in `generation` failed. If it was the trial of an outage without a probe, the
   * trial failed (counted like a failed probe). Failure path only.
   */
  trialFailed(generation: number): void {
    const trial = this.trial;
    if (trial !== undefined && trial.released && trial.generation === generation) trial.end();
  }

  /**
   * The trial of an outage without a probe (sent in `generation`) was answered with back-pressure
   * (a 429): the server is alive and asks for a pause, so it is no failed probe; the next trial
   * goes out after the pause (the pipeline's pacing holds it). Failure path only.
   */
  trialPaced(generation: number): void {
    const trial = this.trial;
    if (trial !== undefined && trial.released && trial.generation === generation) trial.end('paced');
  }

  /**
   * The trial of an outage without a probe (released in `generation`) was ended by its own caller
   * — its signal aborted, or its deadline came — before it told anything: not a failed probe (a
   * cancelled call says nothing about the backend). The next held call gets the trial.
   */
  trialAbandoned(generation: number): void {
    const trial = this.trial;
    if (trial !== undefined && trial.released && trial.generation === generation) trial.end('abandoned');
  }

  private becomeConnected(): void {
    if (this.suspect !== undefined) {
      // The first probe found the path fine: release the held calls, announce nothing.
      this.suspect = undefined;
      this.generationValue++;
      this.probeAbort?.abort();
      this.probeAbort = undefined;
      this.releaseWaiters('ready');
      return;
    }
    const wasOutage = this.statusValue === 'reconnecting';
    const outageMs = wasOutage ? Math.round(monotonicNow() - this.outageStart) : 0;
    if (wasOutage) {
      this.generationValue++;
      this.probeAbort?.abort();
      this.probeAbort = undefined;
    }
    this.setStatus('connected');
    if (wasOutage) {
      const { node, epoch } = this.identity.current;
      const event: ReconnectedEvent = { outageMs, node, epoch };
      this.options.emit({ type: 'reconnected', ...event });
      this.options.onReconnected(event);
      safeCall(this.options.onReconnect, { outageMs, node, epoch }, 'onReconnect', this.options.onCallbackError);
    }
    this.releaseWaiters('ready');
  }

  private giveUp(): void {
    const outageMs = Math.round(monotonicNow() - this.outageStart);
    const info: PermanentFailureInfo = { outageMs, attempts: this.failedProbes };
    this.generationValue++;
    this.gaveUpGeneration = this.generationValue;
    this.probeAbort = undefined;
    this.setStatus('failed');
    this.options.emit({ type: 'permanent-failure', ...info });
    safeCall(this.options.onPermanentFailure, info, 'onPermanentFailure', this.options.onCallbackError);
    this.options.onGaveUp?.(outageMs);
    this.releaseWaiters('failed');
    // Every call of this outage, wherever it waits, ends the same way as the held ones.
    const abort = this.giveUpAbort;
    this.giveUpAbort = undefined;
    const cause = this.outageCause;
    abort?.abort(
      new RetriesExhaustedException('reconnecting failed: maxReconnectAttempts spent', 'reconnect', cause ? [cause] : [], {
        mayHaveExecuted: false,
      }),
    );
  }

  /** This outage was real (see {@link outageConfirmed}). */
  private markConfirmed(): void {
    if (this.confirmed.includes(this.generationValue)) return;
    this.confirmed.push(this.generationValue);
    if (this.confirmed.length > CONFIRMED_OUTAGES_KEPT) this.confirmed.shift();
  }

  /** Records the identity seen; true when it is a new serving identity (a failover). */
  private observeIdentity(node: string | undefined, epoch: number | undefined): boolean {
    const previous = this.identity.observe(node, epoch);
    const current = this.identity.current;
    if (previous !== null) {
      const outageMs = this.statusValue === 'reconnecting' ? Math.round(monotonicNow() - this.outageStart) : 0;
      const event: FailoverEvent = { from: previous, to: current, outageMs };
      this.options.onIdentityChange(this.backend, current);
      this.options.emit({ type: 'failover', ...event });
      this.options.onFailover(event);
    }
    if (this.statusValue === 'connected' && (previous !== null || this.state$.value.node !== current.node)) {
      this.publish();
    }
    return previous !== null;
  }

  private setStatus(status: ConnectionStatus): void {
    if (this.statusValue === status) return;
    this.statusValue = status;
    this.publish();
  }

  private publish(): void {
    const { node, epoch } = this.identity.current;
    const state: ConnectionState = { status: this.statusValue, node, epoch, since: Date.now() };
    this.state$.next(state);
    this.options.emit({ type: 'state', state });
  }

  private releaseWaiters(outcome: WaitOutcome): void {
    for (const waiter of [...this.waiters]) waiter.settle(outcome);
  }
}

function safeCall<T>(callback: ((info: T) => void) | undefined, info: T, name: string, onError: ((callback: string, error: unknown) => void) | undefined): void {
  if (callback === undefined) return;
  try {
    callback(info);
  } catch (error) {
    // A user callback's failure must not break the state machine (Corda's callbacks are
    // fire-and-forget too); it is reported, not swallowed.
    onError?.(name, error);
  }
}

/**
 * Delay before the next health probe of an outage: the retry backoff with "equal" jitter, so
 * that clients reconnecting through one balancer do not probe in lockstep while a probe still
 * comes at least every `maxDelayMs`.
 */
function nextProbeDelay(probesMade: number, options: { minDelayMs: number; maxDelayMs: number }): number {
  const backoff = { minDelayMs: options.minDelayMs, maxDelayMs: options.maxDelayMs, jitter: 'equal', factor: 2 } as const;
  return nextBackoffDelay(backoff, Math.max(0, probesMade - 1), undefined);
}
