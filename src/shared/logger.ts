/**
 * The `logger` option of the client, the policy, the lease and the node, and the small wrapper
 * every component logs through. A library does not write to the console behind its user's back:
 * without a logger nothing is logged, except the few faults a user would otherwise never learn of
 * ({@link Log.fault}), which go to stderr as one line each (docs/logging.md lists them).
 */
import { ConfigurationError } from '../errors.js';
import { redactDeep, redactText, type SecretScope } from './redact.js';

/**
 * Where hotcold writes its log records: pino's level methods (a pino logger, or a child of one, is
 * one), or any object with these four methods. Each record is a structured object (credential-free:
 * every string is redacted before it is handed over) and a short message.
 *
 * @example
 * import { pino } from 'pino';
 * import { createClient } from 'hotcold';
 * const client = createClient({ url: 'http://127.0.0.1:8080', logger: pino({ level: 'debug' }) });
 */
export interface Logger {
  /** Detail of a retry, a probe, a state change. */
  debug(obj: object, msg?: string): void;
  /** A notable change: a failover, a lease acquired or released, a node's request. */
  info(obj: object, msg?: string): void;
  /** A fault that was handled or will be retried, or one the user must act on. */
  warn(obj: object, msg?: string): void;
  /** A fault that ends something (a permanent failure, a lost call). */
  error(obj: object, msg?: string): void;
}

/** The levels hotcold logs at, lowest first. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

const METHODS = ['debug', 'info', 'warn', 'error'] as const;

function ignore(): void {
  // A logger's failure has nowhere to be reported (see Log.write).
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (typeof value === 'object' || typeof value === 'function') && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

/**
 * Checks a `logger` option.
 * @throws ConfigurationError naming `field` when the value is not an object with `debug`, `info`,
 * `warn` and `error` methods.
 */
export function resolveLogger(field: string, value: unknown): Logger | undefined {
  if (value === undefined) return undefined;
  const problem = 'must be a logger with debug, info, warn and error methods (obj, msg), such as a pino logger';
  if ((typeof value !== 'object' && typeof value !== 'function') || value === null) throw new ConfigurationError(field, problem);
  const candidate = value as Partial<Record<LogLevel, unknown>>;
  if (METHODS.some((m) => typeof candidate[m] !== 'function')) throw new ConfigurationError(field, problem);
  return candidate as Logger;
}

/**
 * One component's log (`component: 'client' | 'policy' | 'lease' | 'node'` on every record).
 * Callers check {@link enabled} before building a record, so that a component without a logger
 * pays nothing.
 */
export class Log {
  /** Whether a logger was given (records below {@link fault} are dropped otherwise). */
  readonly enabled: boolean;

  constructor(
    private readonly target: Logger | undefined,
    private readonly component: string,
    /** The owner's literal secrets, scrubbed from every record on top of the patterns. */
    private readonly scope?: SecretScope,
  ) {
    this.enabled = target !== undefined;
  }

  debug(fields: object, msg: string): void {
    if (this.target) this.write('debug', fields, msg);
  }

  info(fields: object, msg: string): void {
    if (this.target) this.write('info', fields, msg);
  }

  warn(fields: object, msg: string): void {
    if (this.target) this.write('warn', fields, msg);
  }

  error(fields: object, msg: string): void {
    if (this.target) this.write('error', fields, msg);
  }

  /**
   * A fault the user would lose silently without a logger (docs/logging.md "Defaults"): to the
   * logger at `level`, or, without one, one line on stderr.
   */
  fault(level: 'warn' | 'error', fields: object, msg: string): void {
    if (this.target) {
      this.write(level, fields, msg);
      return;
    }
    const record = this.record(fields);
    process.stderr.write(`hotcold ${this.component} ${level}: ${redactText(msg, this.scope)} ${JSON.stringify(record)}\n`);
  }

  private record(fields: object): Record<string, unknown> {
    return { component: this.component, ...(redactDeep(fields, this.scope) as Record<string, unknown>) };
  }

  private write(level: LogLevel, fields: object, msg: string): void {
    try {
      const returned: unknown = (this.target as Logger)[level](this.record(fields), redactText(msg, this.scope));
      // An `async` method (a remote sink) returns a promise: its rejection is absorbed here too,
      // or it would be an unhandled rejection, which ends the process.
      if (isThenable(returned)) returned.then(undefined, ignore);
    } catch {
      // A logger that throws must not break a lease loop or a call; there is nowhere to report it.
    }
  }
}
