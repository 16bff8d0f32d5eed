/**
 * The one argument parser of every `hotcold` command: `node:util` `parseArgs`, driven by a table
 * of flags that also writes the command's `--help`. A flag cannot be parsed without being listed
 * in the help, with its meaning and its default.
 */
import { parseArgs } from 'node:util';
import { ConfigurationError } from '../errors.js';
import { redactText, redactTyped } from '../shared/redact.js';

/** One flag of a command. */
export interface FlagSpec {
  /** `string` takes a value (`--db URL` or `--db=URL`); `boolean` does not. */
  readonly type: 'string' | 'boolean';
  /** One-letter alias (`-h`). */
  readonly short?: string;
  /** The value's placeholder in the help (`URL`, `MS`, `N`); string flags only. */
  readonly value?: string;
  /** What the flag means (one line; the help wraps nothing). */
  readonly description: string;
  /** The flag may be given more than once (string flags only); its value is then a list. */
  readonly multiple?: boolean;
  /** The default as the help shows it; omitted for a flag that is off or unset unless given. */
  readonly default?: string;
}

export type FlagSpecs = Readonly<Record<string, FlagSpec>>;

/** What parsing a command's flags gives: a string or a boolean per flag given. */
export type FlagValues<T extends FlagSpecs> = { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : T[K] extends { multiple: true } ? string[] : string };

/** The reason of the ConfigurationError for a value flag given twice. */
export const GIVEN_TWICE = 'is given more than once: give it once';

/** `--help`, which every command has. */
export const HELP_FLAG = { type: 'boolean', short: 'h', description: 'print this help and exit' } as const satisfies FlagSpec;

/**
 * Parses `argv` against `specs` (unknown flags, missing values and, unless positionals are
 * allowed, stray arguments are errors).
 * @throws ConfigurationError naming the flag (the `hotcold` command turns it into exit code 2).
 */
export function parseFlags<T extends FlagSpecs>(specs: T, argv: readonly string[], options: { positionals?: boolean } = {}): { values: FlagValues<T>; positionals: string[] } {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [name, spec] of Object.entries(specs)) {
    config[name] = { type: spec.type, ...(spec.short === undefined ? {} : { short: spec.short }), ...(spec.multiple === true ? { multiple: true } : {}) };
  }
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof config; strict: true; allowPositionals: boolean; tokens: true }>>;
  try {
    parsed = parseArgs({ args: [...argv], options: config, strict: true, allowPositionals: options.positionals === true, tokens: true });
  } catch (error) {
    // A mistyped command line may carry a credential (a database URL given as a stray argument,
    // mistyped so that no URL parser sees its password).
    const raw = error instanceof Error ? error.message : String(error);
    // parseArgs names the argument in quotes: "Unknown option '--x'", "Option '--db <value>' argument missing",
    // "Unexpected argument 'foo'".
    const quoted = /'(-{0,2}[^' ]+)/.exec(raw)?.[1];
    const named = quoted === undefined ? 'argument' : redactTyped(quoted);
    const message = redactText(quoted === undefined ? raw : raw.split(quoted).join(named));
    const code = (error as { code?: unknown }).code;
    const reason =
      code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION'
        ? 'is not a known flag (see --help)'
        : code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL'
          ? 'is not expected here (see --help)'
          : code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && /argument missing/.test(message)
            ? 'needs a value'
            : message;
    throw new ConfigurationError(named, reason);
  }
  // parseArgs keeps the last of two values: `--db A … --db B` would act on B, and `--bump 5
  // --bump 50` raise the token by 50, without a word. A value flag is given once.
  const seen = new Set<string>();
  for (const token of parsed.tokens) {
    if (token.kind !== 'option' || specs[token.name]?.type !== 'string' || specs[token.name]?.multiple === true) continue;
    if (seen.has(token.name)) throw new ConfigurationError(`--${token.name}`, GIVEN_TWICE);
    seen.add(token.name);
  }
  return { values: parsed.values as FlagValues<T>, positionals: parsed.positionals };
}

const HELP_WIDTH = 100;

/** Joins `words` into lines of at most `width` characters (a longer word stays whole). */
function wrap(words: readonly string[], width: number): string[] {
  const lines: string[] = [];
  let line = '';
  for (const word of words) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else {
      line = line === '' ? word : `${line} ${word}`;
    }
  }
  lines.push(line);
  return lines;
}

/** The help text: `usage` and `about` as given, then one line per flag with its meaning and default. */
export function formatHelp(usage: string, specs: FlagSpecs, about = ''): string {
  const rows = Object.entries(specs).map(([name, spec]) => {
    const short = spec.short === undefined ? '    ' : `-${spec.short}, `;
    const left = `${short}--${name}${spec.type === 'string' ? ` ${spec.value ?? 'VALUE'}` : ''}`;
    // The default stays whole on one line, so that the help is easy to grep.
    const right = spec.default === undefined ? spec.description.split(' ') : [...spec.description.split(' '), `(default: ${spec.default})`];
    return [left, right] as const;
  });
  const width = Math.max(...rows.map(([left]) => left.length)) + 2;
  const lines = rows.map(([left, right]) => `  ${left.padEnd(width)}${wrap(right, HELP_WIDTH - 2 - width).join(`\n${' '.repeat(2 + width)}`)}`);
  return [usage, ...(about === '' ? [] : ['', about]), '', 'options:', ...lines].join('\n');
}

/**
 * A whole-number flag value in decimal digits, from `min` to `max`. `Number()` is not used: it
 * takes `0x10`, `1e3`, ` 4` and `4.0` for numbers, so a mistyped value ran with a meaning the
 * operator never wrote.
 * @throws ConfigurationError naming the flag.
 */
export function integerFlag(flag: string, value: string, range: { min: number; max: number }): number {
  const n = /^[0-9]{1,16}$/.test(value) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < range.min || n > range.max) throw new ConfigurationError(flag, `must be a whole number from ${range.min} to ${range.max}, in decimal digits`);
  return n;
}

/**
 * A decimal flag value (`2`, `0.5`) above 0 and at most `max`, in digits with an optional
 * fraction (no exponent, sign, hex or spaces; see {@link integerFlag}).
 * @throws ConfigurationError naming the flag.
 */
export function decimalFlag(flag: string, value: string, max: number): number {
  const n = /^[0-9]{1,16}(\.[0-9]{1,16})?$/.test(value) ? Number(value) : Number.NaN;
  if (!(n > 0 && n <= max)) throw new ConfigurationError(flag, `must be a number above 0 and at most ${max}, in decimal digits (a fraction allowed)`);
  return n;
}

/**
 * A library's {@link ConfigurationError} re-named for the command line: the option it names
 * (`waitInterval`, `dedup.table`, `connectionString`) becomes the flag that set it
 * (`--wait-interval`, `--dedup-table`, `--db`), in the field and, for option names that cannot
 * be ordinary words (camelCase, dotted), in the reason too ("must be greater than
 * updateInterval"). Any other error is returned as it is.
 */
export function asFlagError(error: unknown, flagOf: Readonly<Record<string, string>>): unknown {
  if (!(error instanceof ConfigurationError)) return error;
  // `headers.X-Name`, `callers[0].X`: the flag, then what the option path said beyond it.
  const [, base = error.field, rest = ''] = /^([^.[]+)(.*)$/.exec(error.field) ?? [];
  const flag = flagOf[error.field] ?? flagOf[base];
  const field = flag === undefined ? error.field : flagOf[error.field] !== undefined || rest === '' ? flag : `${flag} (${rest.replace(/^\./, '')})`;
  let reason = error.reason;
  for (const [option, flag] of Object.entries(flagOf)) {
    if (/[A-Z.]/.test(option)) reason = reason.replace(new RegExp(`(?<![\\w.-])${option.replace(/\./g, '\\.')}(?![\\w.])`, 'g'), flag);
  }
  return field === error.field && reason === error.reason ? error : new ConfigurationError(field, reason);
}
