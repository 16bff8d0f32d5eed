/**
 * Before a call that MAY have run is sent again on the strength of a learned dedup statement (a
 * non-idempotent operation, `serverDeduplicates` not configured), the pipeline needs proof that
 * the node about to receive it deduplicates in its current term (issue 8 §1). What it remembers
 * is only a statement by one node in one term (see connection/dedup-facts.ts); behind a balancer
 * the serving node may have changed without the pipeline seeing it — the very failure being
 * retried (a 502, a reset, a timeout) names no node. So it always asks the backend who serves
 * now (the adapter's `ask`: for JSON-RPC, `GET /health`): the answer must name the node and term.
 * A new identity is reported to the monitor (a failover: every fact of the old term is
 * forgotten), then the new statement is recorded; proven only if that node advertises dedup in
 * that term.
 *
 * A serving node that does not advertise dedup in its term is proof of the opposite: the call is
 * not repeated. An ask that fails or finds no active node proves nothing yet: the caller treats
 * that as a connection failure (an outage: the call waits in the hold) and asks again after it.
 * An ask answered with back-pressure (a 429) proves nothing either, but the node is alive: no
 * outage; the caller waits out the pause and asks again.
 * One ask per such retry, on failures only: the success path never comes here. Calls that need
 * proof at the same time share one ask per backend ({@link SharedDedupAsk}).
 *
 * An ask its caller ended (the call's signal aborted: the caller cancelled, close(), an
 * adapter's cancel) says nothing about the backend either way — neither "deduplicates" nor "no
 * active node": it is `left`, and the caller ends with its own abort, no outage announced.
 */
import type { ConnectionMonitor } from '../connection/monitor.js';
import type { DedupFacts } from '../connection/dedup-facts.js';
import { setTimer } from '../shared/timer.js';

/** Who serves behind a backend now, as the adapter's ask learned it. */
export interface DedupAnswer {
  /** An active node answered. */
  ok: boolean;
  /** The protocol's status (HTTP): a 4xx other than 429 means "no such check here", proving nothing ever. */
  status?: number | undefined;
  node?: string | undefined;
  epoch?: number | undefined;
  dedup?: boolean | undefined;
  /** The server answered and asked for a pause (a 429): alive, but it told nothing. */
  backPressure?: boolean | undefined;
  /** The pause it asked for, in ms (its Retry-After), when it named one. */
  retryAfterMs?: number | undefined;
}

/**
 * Asks `backend` who serves. `timeoutMs`: the ask's bound (ms). `deadlineMs`: what is left of the
 * caller's deadline (ms), when it is farther than `timeoutMs` — a caller of {@link SharedDedupAsk}
 * queued behind the ask in flight waits for its own round up to it (that round gets its whole
 * `timeoutMs` once it is sent).
 */
export type DedupAsk = (backend: string, options: { timeoutMs: number; deadlineMs?: number | undefined; signal?: AbortSignal | undefined }) => Promise<DedupAnswer>;

export interface DedupProofContext {
  monitor: ConnectionMonitor;
  facts: DedupFacts;
  ask: DedupAsk;
  probeTimeoutMs: number;
  /** What is left of the call's deadline (ms): how long a shared ask's caller may wait for its round. */
  deadlineMs?: number | undefined;
  signal?: AbortSignal | undefined;
  /** The ask was answered with back-pressure: the pause it named (ms), if any. */
  onBackPressure?: ((backend: string, retryAfterMs: number | undefined) => void) | undefined;
}

/**
 * `unreachable`: no answer, or no active node, so nothing is known yet. `paced`: the backend is
 * alive and asked for a pause (a 429); {@link DedupProofContext.onBackPressure} heard of it first.
 * `left`: the caller ended the ask (its signal aborted, or its deadline came before the ask's
 * own timeout): no evidence of anything.
 */
export type DedupProof = 'proven' | 'not-proven' | 'unreachable' | 'paced' | 'left';

export async function proveDeduplication(context: DedupProofContext): Promise<DedupProof> {
  const { monitor, facts } = context;
  const backend = monitor.backend;
  // Always ask, even when the failure itself came from a node that dedups in its term: behind a
  // balancer the node receiving the repeat may already be another one. The ask narrows that
  // window to one round trip; it cannot close it (docs/client.md, "Learned facts").
  let answer: DedupAnswer;
  try {
    answer = await context.ask(backend, { timeoutMs: context.probeTimeoutMs, deadlineMs: context.deadlineMs, signal: context.signal });
  } catch (error) {
    // The caller's own abort, or its own deadline before the ask's timeout, is not the backend
    // failing to answer.
    return context.signal?.aborted === true || error instanceof DedupAskLeft ? 'left' : 'unreachable';
  }
  if (!answer.ok) {
    if (answer.backPressure === true) {
      context.onBackPressure?.(backend, answer.retryAfterMs);
      return 'paced';
    }
    const status = answer.status;
    return status !== undefined && status >= 400 && status < 500 && status !== 429 ? 'not-proven' : 'unreachable';
  }
  // Proof names who: an answer without the node and its term proves nothing about the node that
  // will receive the repeat (a sidecar or a proxy may answer a health check for anyone).
  if (answer.node === undefined || answer.epoch === undefined) return 'not-proven';
  monitor.reportAnswer(answer.node, answer.epoch, monitor.generation);
  if (!monitor.isServing(answer.node, answer.epoch)) return 'not-proven'; // a deposed node's late word
  facts.record(backend, answer.node, answer.epoch, answer.dedup === true);
  return facts.holds(backend, answer.node, answer.epoch) ? 'proven' : 'not-proven';
}

/**
 * A caller of {@link SharedDedupAsk} stopped waiting at its own `timeoutMs` — what was left of its
 * deadline, shorter than the ask's own bound: its deadline ended the wait, not the backend.
 */
export class DedupAskLeft extends Error {
  override readonly name = 'DedupAskLeft';
}

/** One ask of a backend, shared by every caller that joined it. */
interface AskRound {
  /** Callers still waiting for this round's answer. */
  waiting: number;
  /** Whether the ask went out (a queued round waits for the one in flight). */
  sent: boolean;
  /** Aborted when every caller left: nobody needs the answer any more. */
  readonly controller: AbortController;
  /** Settles with the ask's answer (or its failure) once the round was sent. */
  readonly answer: Promise<DedupAnswer>;
  settle(outcome: Promise<DedupAnswer>): void;
}

/** Per backend: the ask in flight, and the round the callers that came after it wait for. */
interface BackendAsks {
  inFlight: AskRound | undefined;
  queued: AskRound | undefined;
}

/**
 * One dedup-proof ask per backend at a time, however many calls need proof (issue: a thundering
 * herd). When a connection drops with many keyed calls in flight, each one needs proof before
 * its repeat, all at once, and all from the node that has just taken over: asked one per call,
 * the recovering node gets hundreds of asks in the same moment. Here concurrent callers share
 * an ask: the first sends one; those who come while it is in flight wait for ONE more, sent when
 * it settles, so every caller's answer comes from an ask sent after it asked (an answer read
 * before a caller's own failure would say nothing about who serves after it). Each caller
 * interprets the shared answer itself ({@link proveDeduplication}): the answer is about the
 * backend (who serves, in which term, whether it deduplicates), the same for every key.
 *
 * A caller that leaves (its signal aborts, or its own `timeoutMs` — what is left of its deadline
 * — passes first) stops waiting alone: the ask goes on for the others, and is aborted only when
 * nobody waits for it any more. The shared ask is bounded by `probeTimeoutMs`.
 */
export class SharedDedupAsk {
  private readonly byBackend = new Map<string, BackendAsks>();

  constructor(
    private readonly send: DedupAsk,
    private readonly probeTimeoutMs: number,
  ) {}

  /** A {@link DedupAsk}: this caller's answer, from a round it shares; rejects with the signal's reason when it leaves. */
  readonly ask: DedupAsk = (backend, options) => {
    const signal = options.signal;
    if (signal?.aborted === true) return Promise.reject(signal.reason);
    const round = this.join(backend);
    round.waiting++;
    return new Promise<DedupAnswer>((resolve, reject) => {
      let done = false;
      const finish = (): boolean => {
        if (done) return false;
        done = true;
        timer.clear();
        signal?.removeEventListener('abort', onAbort);
        return true;
      };
      const leave = (error: unknown): void => {
        if (!finish()) return;
        this.leave(round);
        reject(error);
      };
      const onAbort = (): void => leave(signal?.reason);
      // The caller waits for ITS round's answer, bounded by its own deadline: the round's ask is
      // bounded itself (probeTimeoutMs from when it is sent, see start()), and a round queued
      // behind the ask in flight is sent only when that one settles — timed from joining, a
      // caller queued behind a slow ask ran out while its own ask was still within its bound, and
      // announced an outage of a backend that answered. Without a deadline given: timeoutMs.
      const waitMs = Math.max(options.timeoutMs, options.deadlineMs ?? 0);
      const ranOut = (): void =>
        leave(
          options.timeoutMs < this.probeTimeoutMs || options.deadlineMs !== undefined
            ? new DedupAskLeft(`the caller's deadline came after ${Math.round(waitMs)} ms of the dedup ask`)
            : new DOMException(`dedup ask timed out after ${Math.round(waitMs)} ms`, 'TimeoutError'),
        );
      const timer = setTimer(ranOut, waitMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      round.answer.then(
        (answer) => {
          if (!finish()) return;
          round.waiting--;
          resolve(answer);
        },
        (error: unknown) => {
          if (!finish()) return;
          round.waiting--;
          reject(error);
        },
      );
    });
  };

  /** The round a caller asking now joins: a new one sent at once, or the one queued behind the ask in flight. */
  private join(backend: string): AskRound {
    let asks = this.byBackend.get(backend);
    if (asks === undefined) {
      asks = { inFlight: undefined, queued: undefined };
      this.byBackend.set(backend, asks);
    }
    if (asks.inFlight === undefined) {
      const round = newRound();
      asks.inFlight = round;
      this.start(backend, asks, round);
      return round;
    }
    asks.queued ??= newRound();
    return asks.queued;
  }

  private start(backend: string, asks: BackendAsks, round: AskRound): void {
    round.sent = true;
    let outcome: Promise<DedupAnswer>;
    try {
      outcome = Promise.resolve(this.send(backend, { timeoutMs: this.probeTimeoutMs, signal: round.controller.signal }));
    } catch (error) {
      outcome = Promise.reject(error);
    }
    // The round is bounded here too, whatever `send` does with its timeoutMs: its callers wait for
    // it (up to their deadlines), and the round queued behind it is sent only when it settles.
    outcome = bounded(outcome, this.probeTimeoutMs, round.controller);
    round.settle(outcome);
    const next = (): void => {
      const queued = asks.queued;
      asks.queued = undefined;
      // A queued round everyone has left is not sent.
      if (queued !== undefined && queued.waiting > 0) {
        asks.inFlight = queued;
        this.start(backend, asks, queued);
      } else {
        asks.inFlight = undefined;
        this.byBackend.delete(backend);
      }
    };
    outcome.then(next, next);
  }

  /** A caller stopped waiting: the ask is aborted only when nobody waits for it. */
  private leave(round: AskRound): void {
    round.waiting--;
    if (round.waiting === 0 && round.sent) round.controller.abort();
  }
}

/** `outcome`, or a TimeoutError after `timeoutMs` (the round's ask is then aborted). */
function bounded(outcome: Promise<DedupAnswer>, timeoutMs: number, controller: AbortController): Promise<DedupAnswer> {
  return new Promise<DedupAnswer>((resolve, reject) => {
    const timer = setTimer(() => {
      const error = new DOMException(`dedup ask timed out after ${Math.round(timeoutMs)} ms`, 'TimeoutError');
      reject(error);
      controller.abort(error);
    }, timeoutMs);
    outcome.then(
      (answer) => {
        timer.clear();
        resolve(answer);
      },
      (error: unknown) => {
        timer.clear();
        reject(error);
      },
    );
  });
}

function newRound(): AskRound {
  let settle!: (outcome: Promise<DedupAnswer>) => void;
  const answer = new Promise<DedupAnswer>((resolve) => {
    settle = resolve;
  });
  // Callers who left attach no handler: a failed ask nobody waits for is not unhandled.
  answer.catch(() => undefined);
  return { waiting: 0, sent: false, controller: new AbortController(), answer, settle };
}
