/**
 * The two ends of a gRPC deadline as hotcold handles them: the caller's `deadline` call option
 * read into "ms left", and the deadline each attempt (and health probe) is sent with.
 */

/**
 * The longest deadline hotcold sends: 24 days. A grpc-js server reads `grpc-timeout` into a
 * 32-bit integer (`| 0`), so anything above 2^31−1 ms (about 24.8 days; grpc-js rounds it up to
 * whole seconds on the way) wraps: 30 days arrived as a deadline already passed. And grpc-js's
 * client cannot encode one beyond ~11 000 years at all (it throws where nobody catches it).
 * 24 days is no limit in practice; the policy still ends the call at its own deadline.
 */
export const MAX_SENT_DEADLINE_MS = 24 * 24 * 3600 * 1000;

/**
 * Ms left until the caller's grpc-js `deadline` (a `Date`, or ms since the epoch): undefined for
 * none (`undefined`, `null` and `Infinity`, as grpc-js reads them), `-Infinity` or any past time
 * as already passed (≤ 0), and `'invalid'` for what is no time at all (NaN, an invalid `Date`, a
 * string). Bare grpc-js ends a NaN one at once and throws on a string; read as "none", it sent
 * the call without the deadline the caller meant to give it.
 */
export function deadlineLeftMs(deadline: unknown): number | undefined | 'invalid' {
  if (deadline === undefined || deadline === null) return undefined;
  const at = deadline instanceof Date ? deadline.getTime() : typeof deadline === 'number' ? deadline : Number.NaN;
  if (Number.isNaN(at)) return 'invalid';
  if (at === Number.POSITIVE_INFINITY) return undefined;
  return at - Date.now();
}

/**
 * The grpc-js `deadline` for `leftMs` from now: `Infinity` (none) for `Infinity`, else at least
 * 1 ms (NaN too, as the HTTP adapters' `X-Hotcold-Timeout-Ms`) and at most {@link MAX_SENT_DEADLINE_MS}.
 */
export function sentDeadline(leftMs: number): number {
  if (leftMs === Number.POSITIVE_INFINITY) return leftMs;
  return Date.now() + (leftMs >= 1 ? (leftMs < MAX_SENT_DEADLINE_MS ? leftMs : MAX_SENT_DEADLINE_MS) : 1);
}

/** grpc-js `Propagate.DEADLINE`: the bit of `propagate_flags` that makes a call inherit its parent's deadline. */
const PROPAGATE_DEADLINE = 1;
/** grpc-js `Propagate.CANCELLATION`: the bit of `propagate_flags` that makes a call end when its parent is cancelled. */
const PROPAGATE_CANCELLATION = 8;
/** grpc-js `Propagate.DEFAULTS`: what grpc-js uses when a call with a `parent` gives no `propagate_flags`. */
const PROPAGATE_DEFAULTS = 0xffff;

/** The `propagate_flags` of a call with a parent, as grpc-js reads them (`propagateFlags ?? Propagate.DEFAULTS`). */
function propagateBits(flags: unknown): number {
  return flags === undefined || flags === null ? PROPAGATE_DEFAULTS : Number(flags);
}

/**
 * Why a call's `parent` cannot be used, or undefined when it can (or there is none): grpc-js calls
 * `parent.getDeadline()` when DEADLINE is propagated and `parent.on('cancelled', …)` when
 * CANCELLATION is, inside every attempt. Anything else there (a plain object, a string) made each
 * attempt throw a TypeError, which the policy took for a backend failure (retries, reconnecting).
 */
export function parentProblem(options: { parent?: unknown; propagate_flags?: unknown }): string | undefined {
  const parent = options.parent;
  if (parent === undefined || parent === null) return undefined;
  const bits = propagateBits(options.propagate_flags);
  const shape = typeof parent === 'object' || typeof parent === 'function' ? (parent as { getDeadline?: unknown; on?: unknown }) : undefined;
  const needs: string[] = [];
  if ((bits & PROPAGATE_DEADLINE) !== 0 && typeof shape?.getDeadline !== 'function') needs.push('getDeadline()');
  if ((bits & PROPAGATE_CANCELLATION) !== 0 && typeof shape?.on !== 'function') needs.push("on('cancelled')");
  if (needs.length === 0) return undefined;
  return `must be a grpc-js server call (the handler's call), with ${needs.join(' and ')} for the propagate_flags given; it has not`;
}

/**
 * The `parent` whose cancellation ends the call: when the call has one and its `propagate_flags`
 * include CANCELLATION (grpc-js's default with a parent), and it can tell (an EventEmitter with
 * `cancelled`, as grpc-js's server calls are). undefined otherwise.
 */
export function cancellingParent<P extends { on?: unknown; removeListener?: unknown }>(options: { parent?: P | null | undefined; propagate_flags?: unknown }): P | undefined {
  const parent = options.parent;
  if (parent === undefined || parent === null) return undefined;
  if ((propagateBits(options.propagate_flags) & PROPAGATE_CANCELLATION) === 0) return undefined;
  if (typeof parent.on !== 'function' || typeof parent.removeListener !== 'function') return undefined;
  return parent;
}

/** The call options {@link callDeadlineLeftMs} reads: grpc-js `CallOptions`' deadline fields. */
export interface CallDeadlineOptions {
  deadline?: unknown;
  parent?: unknown;
  propagate_flags?: unknown;
}

/**
 * Ms left of a grpc-js call's own deadline, as grpc-js itself bounds the call: the earlier of its
 * `deadline` option and, when it has a `parent` (the server call it is made for) and its
 * `propagate_flags` include `DEADLINE` (grpc-js's default with a parent), the parent's deadline.
 * undefined for none; ≤ 0 when passed; `'invalid'` for a `deadline` that is no time at all (see
 * {@link deadlineLeftMs}). A parent's deadline grpc-js cannot read as a time is none, as in grpc-js.
 */
export function callDeadlineLeftMs(options: CallDeadlineOptions): number | undefined | 'invalid' {
  const own = deadlineLeftMs(options.deadline);
  if (own === 'invalid') return own;
  const inherited = parentDeadlineLeftMs(options.parent, options.propagate_flags);
  if (inherited === undefined) return own;
  return own === undefined || inherited < own ? inherited : own;
}

function parentDeadlineLeftMs(parent: unknown, flags: unknown): number | undefined {
  if (parent === undefined || parent === null) return undefined;
  // grpc-js: `propagateFlags ?? Propagate.DEFAULTS`, then `flags & Propagate.DEADLINE`.
  const bits = propagateBits(flags);
  if ((bits & PROPAGATE_DEADLINE) === 0) return undefined;
  const getDeadline = (parent as { getDeadline?: unknown }).getDeadline;
  if (typeof getDeadline !== 'function') return undefined;
  const left = deadlineLeftMs((getDeadline as () => unknown).call(parent));
  return left === 'invalid' ? undefined : left;
}
