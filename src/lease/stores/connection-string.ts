import { ConfigurationError } from '../../errors.js';

/**
 * Checks, at construction, that a connection string is one the driver will be able to parse.
 *
 * Why here and not left to the driver: pg and mysql2 parse the string only when the first
 * connection is opened, inside the lease's retry loop, and their failure ("Invalid URL", a
 * `URIError`) carries no code the loop could tell from a network fault — so a port out of range
 * or a bad percent-encoding was retried every `pollInterval` for ever. And Node's `TypeError:
 * Invalid URL` keeps the whole string, password included, in its `input` property. The reason
 * given never quotes the string.
 */

const REASON = 'cannot be parsed as a URL (check the host, the port (1–65535) and the percent-encoding of the user and password)';

function decodable(...parts: string[]): boolean {
  try {
    for (const part of parts) decodeURIComponent(part);
    return true;
  } catch {
    return false;
  }
}

/**
 * A scheme not followed by `//` (`postgres:/u:pw@h/db`, `mysql:u:pw@h/db`) is a mistyped URL: the
 * drivers read it as one without a host, and its user, password and host as the database's name,
 * and connect to the default server (a local socket) instead of refusing it.
 *
 * @throws {ConfigurationError} `field`.
 */
function requireAuthority(field: string, text: string): void {
  const scheme = /^(postgres|postgresql|mysql|mariadb):/i.exec(text)?.[1];
  if (scheme !== undefined && !text.startsWith(`${scheme}://`)) throw new ConfigurationError(field, `must start with ${scheme.toLowerCase()}:// (two slashes, then user, password and host)`);
}

/**
 * What pg (pg-connection-string 2.x) accepts: a Unix socket path (`/dir [database]`), or a URL,
 * relative ones resolved against `postgres://base`, with a retry for an empty host (`user@/db`),
 * after percent-encoding spaces and stray `%`. Its user and password are percent-decoded.
 *
 * @throws {ConfigurationError} `field` when pg could not parse it.
 */
export function requirePgConnectionString(field: string, text: string): void {
  if (text.startsWith('/')) return;
  requireAuthority(field, text);
  let str = text;
  if (/ |%[^a-f0-9]|%[a-f0-9][^a-f0-9]/i.test(str)) {
    try {
      str = encodeURI(str).replace(/%25(\d\d)/g, '%$1');
    } catch {
      throw new ConfigurationError(field, REASON);
    }
  }
  let url: URL;
  try {
    url = new URL(str, 'postgres://base');
  } catch {
    try {
      url = new URL(str.replace('@/', '@___DUMMY___/'), 'postgres://base');
    } catch {
      throw new ConfigurationError(field, REASON);
    }
  }
  if (!decodable(url.username, url.password, url.hostname)) throw new ConfigurationError(field, REASON);
}

/**
 * What mysql2 (3.x) accepts as `uri`: an absolute URL (`mariadb:` is rewritten to `mysql:` by the
 * store), whose host, database, user and password are percent-decoded.
 *
 * @throws {ConfigurationError} `field` when mysql2 could not parse it.
 */
export function requireMysqlUri(field: string, text: string): void {
  requireAuthority(field, text);
  let url: URL;
  try {
    url = new URL(text.replace(/^mariadb:/i, 'mysql:'));
  } catch {
    throw new ConfigurationError(field, REASON);
  }
  if (!decodable(url.hostname, url.pathname.slice(1), url.username, url.password)) throw new ConfigurationError(field, REASON);
}
