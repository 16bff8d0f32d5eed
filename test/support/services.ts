/**
 * Reachability of the real services the suites use. A suite that needs a database calls
 * {@link databaseAvailable} at collection time and uses `describe.runIf(...)`. When the service is
 * down the skip is announced loudly; with `CI=true` a missing service is a failure, not a skip.
 */
import net from 'node:net';

export const PG_URL = process.env.HOTCOLD_TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
export const MYSQL_URL = process.env.HOTCOLD_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';

const endpoints = {
  postgres: { host: '127.0.0.1', port: 5432 },
  mysql: { host: '127.0.0.1', port: 3306 },
} as const;

export type Service = keyof typeof endpoints;

function canConnect(host: string, port: number, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function databaseAvailable(service: Service): Promise<boolean> {
  const { host, port } = endpoints[service];
  const ok = await canConnect(host, port);
  if (!ok) {
    const message = `\n\n*** ${service} is NOT reachable at ${host}:${port}: its suites are SKIPPED ***\n\n`;
    if (process.env.CI === 'true') {
      throw new Error(`${service} is required in CI (CI=true) but is not reachable at ${host}:${port}`);
    }
    process.stderr.write(message);
  }
  return ok;
}
