/**
 * The credentials a caller put in a call's metadata (`authorization`, `x-api-key`, a session
 * cookie), as a scope that scrubs them from what the server sent back: a status's details may
 * quote them ("denied for key k-8f7e…") in a form no redaction pattern recognises, and those
 * details reach the call's RPCException, its events and log records. Built only when an attempt
 * failed, from the caller's metadata: the success path reads nothing.
 */
import { CREDENTIAL_HEADER_NAME, SecretScope } from '../shared/redact.js';
import { GrpcMetadataKeys } from './metadata-facts.js';
import type { GrpcMetadataLike } from './grpc-types.js';

/** Keys hotcold itself sets: an idempotency key is not a credential (errors may name it). */
const OWN_KEYS: ReadonlySet<string> = new Set([GrpcMetadataKeys.idempotencyKey, GrpcMetadataKeys.attempt]);

/** A scope of the string values under credential-named keys of `metadata`. */
export function metadataSecrets(metadata: GrpcMetadataLike | undefined): SecretScope {
  const scope = new SecretScope();
  if (metadata === undefined || typeof metadata.getMap !== 'function') return scope;
  for (const key of Object.keys(metadata.getMap())) {
    if (OWN_KEYS.has(key) || !CREDENTIAL_HEADER_NAME.test(key)) continue;
    for (const value of metadata.get(key)) if (typeof value === 'string') scope.addHeaderValue(value);
  }
  return scope;
}
