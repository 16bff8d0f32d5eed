/**
 * Credential scrubbing for anything that may end up in a message, log line or event.
 *
 * Two layers: patterns that catch credentials in any text (URL userinfo, `Bearer`/`Basic`
 * schemes, `Authorization:` headers, `password=` pairs), and a registry of the literal secrets
 * this process was configured with, so that a password quoted in some driver's message is
 * caught even when it matches no pattern.
 */

const REDACTED = '[REDACTED]';

const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // scheme://user:password@host → scheme://[REDACTED]@host
  [/([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]*(?::[^\s/@]*)?@/gi, `$1${REDACTED}@`],
  [/\b(Bearer|Basic|Digest|Token)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  [/(authorization|proxy-authorization|cookie|set-cookie)(["']?\s*[:=]\s*["']?)[^"'\n,}]+/gi, `$1$2${REDACTED}`],
  [/\b(password|passwd|pwd|secret|token|api[_-]?key)(["']?\s*[:=]\s*["']?)[^"'\s&,;}]+/gi, `$1$2${REDACTED}`],
];

const secrets = new Set<string>();

/**
 * Registers a literal secret to scrub from every message this library produces. Short values
 * (under 4 characters) are ignored: scrubbing them would mangle ordinary text.
 */
export function registerSecret(secret: string | undefined | null): void {
  if (typeof secret === 'string' && secret.length >= 4) secrets.add(secret);
}

export function redactText(text: string): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  for (const secret of secrets) {
    if (out.includes(secret)) out = out.split(secret).join(REDACTED);
  }
  return out;
}

/** A URL with any userinfo removed, for messages, events and node identities. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = '';
      parsed.password = '';
    }
    return redactText(parsed.toString());
  } catch {
    return redactText(url);
  }
}
