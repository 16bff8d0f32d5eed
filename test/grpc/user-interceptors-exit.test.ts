/**
 * A process whose only work is a gRPC call through grpcInterceptor to a server that never answers
 * exits by itself once the call is settled: the interceptor's one-timer registry of attempts
 * must not hold it open, whether the policy was closed with the call in flight or the attempts
 * timed out on their own. A real child process against a real grpc-js server.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { stall, startEchoServer } from './support.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const server = await startEchoServer();
afterAll(() => server.close());

function runChild(mode: 'close' | 'timeout'): Promise<{ out: string; code: number | null; signal: NodeJS.Signals | null; err: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/grpc/fixtures/exit-child.ts', server.address, mode], {
    cwd: root,
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { ...process.env, NODE_NO_WARNINGS: '1' },
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  if (mode === 'close') void server.reached(1).then(() => child.stdin.write('close\n'));
  // A bound for a stuck child (the failure this test looks for), not a target.
  const kill = setTimeout(() => child.kill('SIGKILL'), 60_000);
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      clearTimeout(kill);
      resolve({ out, code, signal, err });
    });
  });
}

describe('a process with a grpcInterceptor call to a server that never answers', () => {
  it('exits after close() of the policy with the call in flight', async () => {
    server.behave(stall);
    const { out, code, signal, err } = await runChild('close');
    expect(signal, err).toBeNull();
    expect(code, err).toBe(0);
    expect(out).toMatch(/^settled [1-9]/m);
  }, 90_000);

  it('exits after its attempts timed out on their own', async () => {
    server.behave(stall);
    const { out, code, signal, err } = await runChild('timeout');
    expect(signal, err).toBeNull();
    expect(code, err).toBe(0);
    expect(out).toMatch(/^settled [1-9]/m);
  }, 90_000);
});
