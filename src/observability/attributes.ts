/**
 * Attribute names and values of hotcold's telemetry. Values are low-cardinality and carry no
 * credentials: a backend is named by its URL without userinfo, query or fragment.
 */
import { backendLabel } from '../shared/redact.js';

/** OpenTelemetry semantic conventions (rpc, error). */
export const ATTR_RPC_METHOD = 'rpc.method';
export const ATTR_ERROR_TYPE = 'error.type';
/** hotcold's own. */
export const ATTR_BACKEND = 'hotcold.backend';
export const ATTR_OUTCOME = 'hotcold.outcome';
export const ATTR_MAY_HAVE_EXECUTED = 'hotcold.may_have_executed';
export const ATTR_RETRY_REASON = 'hotcold.retry.reason';
export const ATTR_BREAKER_STATE = 'hotcold.breaker.state';
export const ATTR_BREAKER_CAUSE = 'hotcold.breaker.cause';
export const ATTR_OUTAGE_OUTCOME = 'hotcold.outage.outcome';
export const ATTR_ATTEMPT = 'hotcold.attempt';
export const ATTR_ATTEMPTS = 'hotcold.attempts';
export const ATTR_RETRY_DELAY_MS = 'hotcold.retry.delay_ms';

/** The outcome of a successful call or attempt (failures are their RPCException kind). */
export const SUCCESS = 'success';

/**
 * A backend key as an attribute value: a URL loses userinfo, query and fragment (a token in a
 * query string is a credential redaction patterns may not recognise); other keys are redacted text.
 */
export function backendAttribute(backend: string): string {
  return backendLabel(backend).replace(/\/$/, '');
}
