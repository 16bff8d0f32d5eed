/**
 * Credential scrubbing for anything that may end up in a message, log line, event or `toJSON()`.
 *
 * Two layers: patterns that catch credentials in any text (URL userinfo, `Bearer`/`Basic`
 * schemes, `Authorization:` headers, `password=` pairs), and a {@link SecretScope} of the literal
 * secrets one owner (a client, a transport, a lease store) was configured with, so that a password
 * quoted in some driver's or server's text is caught even when it matches no pattern. A scope
 * belongs to its owner and is cleared on the owner's `close()`: nothing is process-wide, so a
 * process that creates many clients neither leaks their secrets nor pays for them on every error.
 */

const REDACTED = '[REDACTED]';

const PATTERNS: ReadonlyArray<[RegExp, string]> = [
  // scheme://user:password@host → scheme://[REDACTED]@host, and a protocol-relative
  // //user:password@host (an absolute URL to axios, and to a browser) → //[REDACTED]@host.
  // The scheme is bounded (RFC 3986 schemes are short): tried from every letter of a long
  // server-controlled "a-a-a-…", an unbounded one would cost quadratic time.
  [/((?:[a-z][a-z0-9+.-]{0,31}:)?\/\/)[^\s/@:]*(?::[^\s/@]*)?@/gi, `$1${REDACTED}@`],
  [/\b(Bearer|Basic|Digest)\s+[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  // "Token <credential>", but not prose such as "token 42" (a fencing token in a lease message).
  [/\b(Token)\s+(?!\d+\b)[A-Za-z0-9._~+/=-]+/gi, `$1 ${REDACTED}`],
  [/(authorization|proxy-authorization|cookie|set-cookie)(["']?\s*[:=]\s*["']?)[^"'\n,}]+/gi, `$1$2${REDACTED}`],
  // Prefixed names too (`access_token=`, `client_secret=`, `X-Amz-Signature=`, `x-api-key:`). The
  // prefix is bounded: text is server-controlled, and an unbounded prefix tried from every word
  // boundary of a long "a-a-a-…" would cost quadratic time.
  [/\b([a-z0-9_-]{0,40}?(?:password|passwd|pwd|secret|token|api[_-]?key|signature|sig))(["']?\s*[:=]\s*["']?)[^"'\s&,;}]+/gi, `$1$2${REDACTED}`],
];

/** Object keys whose value is a credential whatever it looks like. */
const SENSITIVE_KEY = /^(authorization|proxy-authorization|cookie|set-cookie|password|passwd|pwd|secret|token|api[_-]?key|access[_-]?token|refresh[_-]?token)$/i;

/**
 * Header (and gRPC metadata) names whose values are credentials: a client's configured headers
 * and a gRPC call's metadata under such names are scrubbed wherever a server echoes them.
 */
export const CREDENTIAL_HEADER_NAME = /auth|token|key|secret|cookie|session|passw/i;

/** Secrets shorter than this are scrubbed only where they stand alone (see scrubLiterals). */
const SHORT_SECRET = 6;

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** How deep {@link redactDeep} walks before it summarises the rest (server payloads can nest). */
const MAX_DEPTH = 8;

/**
 * The literal secrets of one owner, in every form a server may echo them (plain, percent-encoded,
 * percent-decoded). Short values are scrubbed only where they stand alone.
 *
 * @internal
 */
export class SecretScope {
  private readonly secrets = new Set<string>();
  private frozen: SecretScope | undefined;

  /** Adds a secret (and its percent-decoded form, as it appears in URLs). */
  add(secret: string | undefined | null): void {
    if (typeof secret !== 'string' || secret.length === 0) return;
    this.frozen = undefined;
    // The forms a server may echo it in: as given, percent-decoded, percent-encoded.
    this.secrets.add(secret);
    try {
      this.secrets.add(decodeURIComponent(secret));
    } catch {
      // Not percent-encoded: the raw form is enough.
    }
    this.secrets.add(encodeURIComponent(secret));
  }

  /**
   * Adds a credential-bearing header's value and the parts a server may echo alone: the token
   * after an auth scheme (`Bearer x` → `x`) and each cookie's value (`sid=x; t=y` → `x`, `y`).
   */
  addHeaderValue(value: string): void {
    this.add(value);
    const scheme = /^\s*[A-Za-z][\w-]*\s+(\S+)\s*$/.exec(value);
    if (scheme?.[1] !== undefined) this.add(scheme[1]);
    for (const part of value.split(';')) {
      const eq = part.indexOf('=');
      if (eq > 0) this.add(part.slice(eq + 1).trim());
    }
  }

  /** Adds the password of a URL's userinfo, if it has one. */
  addUrlPassword(url: string): void {
    try {
      this.add(new URL(url).password);
    } catch {
      // Not a URL: nothing to register (the URL itself is never echoed).
    }
  }

  /** Whether no literal secret is registered (callers skip work on the success path). */
  get empty(): boolean {
    return this.secrets.size === 0;
  }

  /** Forgets every secret: call it from the owner's `close()`. */
  clear(): void {
    this.frozen = undefined;
    this.secrets.clear();
  }

  /**
   * An unchanging copy, for an error that outlives its owner: it must still scrub what it prints
   * after the owner's `close()` cleared this scope. Shared until this scope changes.
   */
  snapshot(): SecretScope {
    if (this.frozen === undefined) {
      const copy = new SecretScope();
      for (const s of this.secrets) copy.secrets.add(s);
      copy.frozen = copy;
      this.frozen = copy;
    }
    return this.frozen;
  }

  /** Text with patterns and this scope's literal secrets replaced. */
  text(text: string): string {
    return redactText(text, this);
  }

  /** @internal Used by {@link redactText}. */
  scrubLiterals(text: string): string {
    let out = text;
    // Longest first, so a secret's encoded form is not half-replaced by the plain one.
    for (const secret of [...this.secrets].sort((a, b) => b.length - a.length)) {
      if (!out.includes(secret)) continue;
      if (secret.length >= SHORT_SECRET) out = out.split(secret).join(REDACTED);
      // A short secret (a 3-character password) is replaced only where it stands alone, so that
      // ordinary words containing it are not mangled.
      else out = out.replace(new RegExp(`(?<![A-Za-z0-9])${escapeRegExp(secret)}(?![A-Za-z0-9])`, 'g'), REDACTED);
    }
    return out;
  }
}

/** Text with credential patterns (and, given a scope, its literal secrets) replaced. */
export function redactText(text: string, scope?: SecretScope): string {
  let out = text;
  for (const [pattern, replacement] of PATTERNS) out = out.replace(pattern, replacement);
  return scope === undefined || scope.empty ? out : scope.scrubLiterals(out);
}

/** A URL with any userinfo removed, for messages, events and node identities. */
export function redactUrl(url: string, scope?: SecretScope): string {
  try {
    const parsed = new URL(url);
    if (parsed.username || parsed.password) {
      parsed.username = '';
      parsed.password = '';
    }
    return redactText(parsed.toString(), scope);
  } catch {
    return redactText(url, scope);
  }
}

/**
 * Text a person typed (a command-line argument, a `--db` value, an environment variable), for a
 * message: {@link redactText}'s patterns, and also the userinfo of a MISTYPED URL, which no URL
 * parser sees as one: `postgres:/u:pw@h/db` (one slash), `postgres//u:pw@h/db` (no colon),
 * `u:pw@h:5432/db` (no scheme). Whatever stands before the last `@` is dropped when it holds a
 * `:` (a user name alone is no secret); a scheme the text starts with is kept.
 */
export function redactTyped(text: string, scope?: SecretScope): string {
  const out = redactUrl(text, scope);
  // A URL with a host had its userinfo removed above: an '@' left is in its path or query.
  if (hostOf(text) !== '') return out;
  const at = out.lastIndexOf('@');
  if (at === -1) return out;
  const scheme = /^(?:postgres(?:ql)?|mysql|mariadb|sqlite|https?):\/*/i.exec(out)?.[0] ?? '';
  const userinfo = out.slice(scheme.length, at);
  if (!userinfo.includes(':') || userinfo.endsWith(REDACTED)) return out;
  return `${scheme}${REDACTED}${out.slice(at)}`;
}

function hostOf(text: string): string {
  try {
    return new URL(text).host;
  } catch {
    return '';
  }
}

/**
 * A backend's URL as a label for events, log records, messages and telemetry: without userinfo,
 * query or fragment (a `?sig=` or `?key=` in a query string is a credential no pattern may
 * recognise). A backend key that is not a URL is redacted text.
 */
export function backendLabel(backend: string, scope?: SecretScope): string {
  let parsed: URL;
  try {
    parsed = new URL(backend);
  } catch {
    return redactText(backend, scope);
  }
  parsed.search = '';
  parsed.hash = '';
  return redactUrl(parsed.toString(), scope);
}

/**
 * A JSON-safe deep copy of `value` with every string redacted and every value under a
 * credential-named key replaced. Server-controlled payloads (a JSON-RPC error's `data`) go
 * through this before they leave by `toJSON()`, `util.inspect`, an event or a log line.
 * Cycles and depth beyond {@link MAX_DEPTH} become `'[…]'`.
 */
export function redactDeep(value: unknown, scope?: SecretScope): unknown {
  return walk(value, scope, 0, new WeakSet());
}

function walk(value: unknown, scope: SecretScope | undefined, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactText(value, scope);
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' || typeof value === 'function' || typeof value === 'symbol' ? String(value) : value;
  if (seen.has(value) || depth >= MAX_DEPTH) return '[…]';
  seen.add(value);
  try {
    if (Array.isArray(value)) return value.map((v) => walk(v, scope, depth + 1, seen));
    if (value instanceof Error) return { name: value.name, message: redactText(value.message, scope) };
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      // Keys are server text too: a payload may use a credential as a key.
      out[redactText(key, scope)] = SENSITIVE_KEY.test(key) && v !== null && v !== undefined ? REDACTED : walk(v, scope, depth + 1, seen);
    }
    return out;
  } finally {
    seen.delete(value);
  }
}
