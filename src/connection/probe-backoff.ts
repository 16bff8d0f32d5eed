/**
 * Delay before the next health probe of an outage: exponential from `minDelayMs`, capped at
 * `maxDelayMs`, with "equal" jitter so that many clients reconnecting through one balancer do
 * not probe in lockstep, while a probe still comes at least every `maxDelayMs`.
 */
export function nextProbeDelay(
  probesMade: number,
  minDelayMs: number,
  maxDelayMs: number,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(0, probesMade - 1), 30);
  const ceiling = Math.min(maxDelayMs, minDelayMs * 2 ** exponent);
  const half = ceiling / 2;
  return Math.max(minDelayMs / 2, half + random() * half);
}
