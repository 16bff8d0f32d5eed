/**
 * Every timer the library arms goes through src/shared/timer.ts (setTimer/setRepeating/sleep),
 * which handles any delay: a raw setTimeout elsewhere would bring back the 2^31−1 ms overflow
 * (a far deadline firing after 1 ms) that this rule exists to prevent.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('one timer helper', () => {
  it('no module outside src/shared/timer.ts calls setTimeout/setInterval directly', () => {
    const offenders = files(SRC)
      .filter((f) => !f.endsWith(join('shared', 'timer.ts')))
      .flatMap((f) =>
        readFileSync(f, 'utf8')
          .split('\n')
          .map((line, i) => ({ line, at: `${relative(SRC, f)}:${i + 1}` }))
          // `socket.setTimeout` is a socket idle timeout, not a timer.
          .filter(({ line }) => /(^|[^.\w])(setTimeout|setInterval)\s*\(/.test(line)),
      )
      .map((o) => o.at);
    expect(offenders).toEqual([]);
  });
});
