/**
 * The dev balancer in its own process, for benchmarks whose clients would otherwise share one
 * event loop with it: `tsx bench/dev-balancer-process.ts <checkIntervalMs> <backend url>...`.
 * Prints `{"url": …}` once listening; stops on SIGTERM or when stdin closes.
 */
import { startDevBalancer } from '../src/testing/dev-balancer.js';

const [interval, ...backends] = process.argv.slice(2);
const balancer = await startDevBalancer({ backends, checkIntervalMs: Number(interval) });
process.stdout.write(`${JSON.stringify({ url: balancer.url })}\n`);
const stop = (): void => {
  void balancer.close().then(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.stdin.on('end', stop);
process.stdin.resume();
