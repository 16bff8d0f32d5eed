import { redactText } from '../shared/redact.js';

/** One line for an event: name and message, with any registered secret redacted. */
export function describeError(error: unknown): string {
  return redactText(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
}
