/**
 * The lease engine's behaviour, run against every store by lease.<dialect>.test.ts. Real
 * databases, real child processes; intervals 100/500 ms so that timing is measurable yet quick.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createLease, FencingError, LeaseLostError, promoteLease, storeFromUrl } from '../../src/lease/index.js';
import { earliestTakeoverAfterRead } from '../../src/lease/self-fencing.js';
import type { Lease, LeaseOptions, LeaseStore } from '../../src/lease/types.js';
import {
  activeResources,
  blockEventLoop,
  delay,
  exited,
  firstLine,
  nextEvent,
  runCli,
  runLeaseCliInProcess,
  spawnTs,
  uniqueTable,
  waitFor,
} from './helpers.js';

const U = 100;
/** 5 × U: short enough to measure, long enough that a loaded CI box does not fence a healthy holder. */
const W = 500;

export interface SuiteTarget {
  /** A URL `storeFromUrl` and the CLI understand, for child processes. */
  url: string;
  /** Drops a table after the file's tests (no-op for SQLite temp files). */
  drop(table: string): Promise<void>;
  /**
   * Holds a row lock on the lease row from another connection until the returned function is
   * called (undefined where the dialect has no row locks).
   */
  lockRow?(table: string, name: string): Promise<() => Promise<void>>;
}

export function leaseSuite(dialect: string, target: SuiteTarget): void {
  const table = uniqueTable(`lease_${dialect}`);
  const stores: LeaseStore[] = [];
  const leases: Lease[] = [];
  let counter = 0;

  const store = (): LeaseStore => {
    const s = storeFromUrl(target.url, { table });
    stores.push(s);
    return s;
  };
  const lease = (options: Partial<LeaseOptions> = {}): Lease => {
    const l = createLease({ store: options.store ?? store(), machineName: 'm', updateInterval: U, waitInterval: W, ...options });
    leases.push(l);
    return l;
  };
  /** A fresh lease name per test: tests in one file share the table, not the row. */
  const fresh = (): string => `t${++counter}`;

  afterEach(async () => {
    await Promise.all(leases.splice(0).map((l) => l.close()));
    await Promise.all(stores.splice(0).map((s) => s.close()));
  });
  afterAll(async () => {
    await target.drop(table);
  });

  describe(`lease engine on ${dialect}`, () => {
    it('acquires with a token, renews every updateInterval, and reports timings', async () => {
      const name = fresh();
      const a = lease({ name });
      const renewals: number[] = [];
      a.events$.subscribe((e) => {
        if (e.type === 'renewed') renewals.push(e.latencyMs);
      });
      const acquired = nextEvent(a.events$, 'acquired');
      const held = await a.acquire();
      expect(held.token).toBeGreaterThanOrEqual(1);
      expect((await acquired).waitedMs).toBeGreaterThanOrEqual(0);
      expect(a.state.status).toBe('active');
      expect(a.state.token).toBe(held.token);
      expect(a.current).toBe(held);
      expect(held.isValid()).toBe(true);
      expect(held.remainingMs()).toBeGreaterThan(0);
      expect(held.remainingMs()).toBeLessThanOrEqual(W);
      await delay(3.5 * U);
      expect(renewals.length).toBeGreaterThanOrEqual(2);
      expect(held.isValid()).toBe(true);
      const row = await a.store.read(name);
      expect(row?.holder).toBe(a.holderId);
      expect(row?.machineName).toBe('m');
      expect(row?.token).toBe(held.token);
      expect(row?.expiresInMs).toBeGreaterThan(0);
      expect(a.holderId).toMatch(/^m#[0-9a-f]+$/);
    });

    it('never lets two engines be active at once, and hands over on release', async () => {
      // Part 1 (U/W = 100/500 ms): A holds, B contends for 2 W. On a loaded machine A may
      // legitimately miss its renewals and lapse; B getting in is then correct. What is
      // guaranteed, and checked: never both valid at once, and B gets in only after A's lease ran
      // out — no earlier than W after the send of A's last successful write (acquire or renewal),
      // since the database stamps a write after its send and a standby takes over only once that
      // stamp is W old. A B that ignored a live lease would get in at its first poll, < U after
      // A's last renewal.
      const name = fresh();
      const a = lease({ name });
      const b = lease({ name });
      /** Send times (monotonic) of A's successful writes: no later than the database stamped them. */
      const aWrites: number[] = [];
      a.events$.subscribe((e) => {
        if (e.type === 'renewed') aWrites.push(performance.now() - e.latencyMs);
      });
      let bAcquiredAt: number | undefined;
      b.events$.subscribe((e) => {
        if (e.type === 'acquired') bAcquiredAt ??= performance.now();
      });
      aWrites.push(performance.now()); // sent no earlier than now
      const heldA = await a.acquire();
      const pendingB = b.acquire();
      const until = performance.now() + 2 * W;
      while (performance.now() < until) {
        // The safety property itself: never both valid at once.
        const aValid = heldA.isValid();
        const bValid = b.current?.isValid() ?? false;
        expect(aValid && bValid).toBe(false);
        await delay(5);
      }
      if (bAcquiredAt === undefined) {
        // B waited behind A the whole window, having seen A hold the row; it is still waiting.
        expect(b.state.holder).toBe(a.holderId);
        await b.close();
        await expect(pendingB).rejects.toThrow(/closed/);
      } else {
        // B got in: only legitimate if A's lease had lapsed (it did not release).
        expect(heldA.isValid()).toBe(false);
        expect(heldA.signal.aborted).toBe(true);
        expect((heldA.signal.reason as LeaseLostError).reason).not.toBe('released');
        // 5 ms: database stamp resolution (SQLite: 1 ms) and its wall clock vs our monotonic one.
        for (const sentAt of aWrites) expect(bAcquiredAt - sentAt).toBeGreaterThanOrEqual(W - 5);
        expect((await pendingB).token).toBeGreaterThan(heldA.token);
      }

      // Part 2: a release hands over at once. A announces a long waitInterval (10 s = 20 × W),
      // so the alternative — the lease running out — cannot let B in before 10 s after A's last
      // successful write; a handover before that is the release's doing. (A lapsing needs 10 s
      // without a renewal: the first expectation below.)
      const name2 = fresh();
      const WA = 10_000;
      const a2 = lease({ name: name2, waitInterval: WA });
      const b2 = lease({ name: name2 });
      const a2Writes: number[] = [];
      a2.events$.subscribe((e) => {
        if (e.type === 'renewed') a2Writes.push(performance.now() - e.latencyMs);
      });
      a2Writes.push(performance.now());
      const heldA2 = await a2.acquire();
      const pendingB2 = b2.acquire();
      // B2 has read the row and waits behind A2 (it would wait for the expiry). The bound only
      // guards against a hang: B2's first read comes after its store connects and checks the
      // replication mode and the table, seconds under load.
      await waitFor(() => b2.state.status === 'acquiring' && b2.state.holder === a2.holderId, 10_000);
      expect(heldA2.isValid()).toBe(true);
      await a2.release();
      expect(heldA2.signal.aborted).toBe(true);
      expect(heldA2.signal.reason).toBeInstanceOf(LeaseLostError);
      expect((heldA2.signal.reason as LeaseLostError).reason).toBe('released');
      expect(heldA2.isValid()).toBe(false);
      expect(a2.state.status).toBe('released');
      const heldB2 = await pendingB2;
      const handedOverAt = performance.now();
      // Before the lease could have expired: the release let B2 in.
      expect(handedOverAt).toBeLessThan(Math.max(...a2Writes) + WA);
      expect(heldB2.token).toBeGreaterThan(heldA2.token);
    });

    it('warm standby takes over within waitInterval after the holder process is SIGKILLed', async () => {
      const name = fresh();
      const child = spawnTs('test/lease/fixtures/holder.ts', [target.url, table, name, String(U), String(W)]);
      try {
        const info = await firstLine(child);
        const standby = lease({ name, mode: 'warm' });
        const pending = standby.acquire();
        // A hang guard: the standby's first read comes after its store connects and checks the
        // replication mode and the table, seconds under load (as B2's in the handover test).
        await waitFor(() => standby.state.holder === info.holder, 10_000);
        await delay(2 * U);
        // How long the row has left just before the kill: a renewal after this read only moves
        // the expiry later, so no takeover can come before what the read reports. (Not "the last
        // renewal was at most U before the kill": under load the child renews late, or lapses.)
        const readSentAt = performance.now();
        const row = await store().read(name);
        child.kill('SIGKILL');
        const held = await pending;
        const acquiredAt = performance.now();
        expect(acquiredAt).toBeGreaterThanOrEqual(earliestTakeoverAfterRead(readSentAt, row?.expiresInMs ?? 0));
        // How soon after the expiry the standby gets in is a speed claim: bench/lease.ts
        // ("SIGKILL of the holder → warm standby active").
        expect(held.token).toBe((info.token as number) + 1);
      } finally {
        child.kill('SIGKILL');
        await exited(child);
      }
      // The holder starts through tsx (firstLine's bound, 60 s, under load) before the test proper.
    }, 90_000);

    it('acquire({signal}) rejects with the reason when aborted while waiting, and stops contending', async () => {
      const name = fresh();
      const a = lease({ name });
      const b = lease({ name });
      await a.acquire();
      const controller = new AbortController();
      const pending = b.acquire({ signal: controller.signal });
      await waitFor(() => b.state.status === 'acquiring' && b.state.holder === a.holderId, 2_000);
      const reason = new Error('operator gave up');
      controller.abort(reason);
      await expect(pending).rejects.toBe(reason);
      expect(b.state.status).toBe('standby');
      await a.release();
      await delay(3 * U);
      expect(b.state.status).toBe('standby'); // did not take the free lease: nobody asked it to
      const late = new AbortController();
      late.abort(reason);
      await expect(b.acquire({ signal: late.signal })).rejects.toBe(reason);
    });

    it('fencing tokens strictly increase across release, re-acquire, expiry and force', async () => {
      const name = fresh();
      const s = store();
      const tokens: number[] = [];
      for (let round = 0; round < 3; round += 1) {
        const a = lease({ name, store: s });
        tokens.push((await a.acquire()).token);
        if (round === 1) {
          const forced = await promoteLease(s, name, { force: true });
          expect(forced.outcome).toBe('forced');
          tokens.push(forced.token);
          await nextEvent(a.events$, 'lost');
        }
        await a.close();
        const b = lease({ name, store: s });
        tokens.push((await b.acquire()).token);
        await b.release();
        tokens.push((await b.acquire()).token);
        await b.close();
      }
      for (let i = 1; i < tokens.length; i += 1) expect(tokens[i]).toBeGreaterThan(tokens[i - 1] as number);
      expect(new Set(tokens).size).toBe(tokens.length);
    });

    it('promote without --force refuses a live holder; --force (CLI) makes the holder lose at its next renewal', async () => {
      const name = fresh();
      // A long waitInterval: the loss must come from the rejected renewal, not from self-fencing.
      const a = lease({ name, updateInterval: 200, waitInterval: 5_000 });
      const held = await a.acquire();
      const refused = await runLeaseCliInProcess(['lease', 'promote', '--db', target.url, '--table', table, '--name', name]);
      expect(refused.code).toBe(3);
      expect(held.isValid()).toBe(true);
      const status = await runLeaseCliInProcess(['lease', 'status', '--db', target.url, '--table', table, '--name', name, '--json']);
      expect(status.code).toBe(0);
      const report = JSON.parse(status.stdout) as { holder: string; token: number; live: boolean };
      expect(report).toMatchObject({ holder: a.holderId, token: held.token, live: true });

      // Send times of the renewals that succeeded: none sent after the forced promotion committed.
      const renewedSends: number[] = [];
      a.events$.subscribe((e) => {
        if (e.type === 'renewed') renewedSends.push(performance.now() - e.latencyMs);
      });
      const lost = nextEvent(a.events$, 'lost');
      const forced = await runCli(['lease', 'promote', '--db', target.url, '--table', table, '--name', name, '--force']);
      expect(forced.code).toBe(0);
      const forcedAt = performance.now(); // the child has exited: its promotion committed before this
      // Lost by the rejected renewal ('superseded'), not by self-fencing 5 s later ('self-fenced'),
      // and at its next renewal: no renewal sent after the promotion succeeded.
      expect((await lost).cause).toBe('superseded');
      expect(renewedSends.filter((sentAt) => sentAt >= forcedAt)).toEqual([]);
      expect(held.signal.aborted).toBe(true);
      expect((held.signal.reason as LeaseLostError).reason).toBe('superseded');
      expect(held.isValid()).toBe(false);
      // cold mode: stays lost until asked again
      expect(a.state.status).toBe('lost');
      const again = await a.acquire();
      expect(again.token).toBeGreaterThan(held.token + 1);
    });

    it('isValid() is false right after a synchronous pause longer than waitInterval, before any timer runs', async () => {
      const name = fresh();
      const a = lease({ name });
      const held = await a.acquire();
      let lostEvents = 0;
      a.events$.subscribe((e) => {
        if (e.type === 'lost') lostEvents += 1;
      });
      blockEventLoop(W + 20);
      expect(held.isValid()).toBe(false);
      expect(held.signal.aborted).toBe(true);
      expect((held.signal.reason as LeaseLostError).reason).toBe('self-fenced');
      expect(lostEvents).toBe(1);
      expect(held.remainingMs()).toBe(0);
    });

    it('with unsafeDisableSelfFencing the holder stays "valid" through the pause until a renewal is rejected', async () => {
      const name = fresh();
      const a = lease({ name, unsafeDisableSelfFencing: true });
      const b = lease({ name, mode: 'warm' });
      const held = await a.acquire();
      const pendingB = b.acquire();
      blockEventLoop(W + 50);
      expect(held.isValid()).toBe(true);
      // b takes over (its acquire statement was sent after the pause), then a's renewal fails.
      await pendingB;
      // Without self-fencing nothing but a rejected renewal ends it (the reason says which); the
      // bound only guards against a hang: under load a's next renewal may come well after U.
      await waitFor(() => !held.isValid(), 10_000);
      expect((held.signal.reason as LeaseLostError).reason).toBe('superseded');
    });

    it('warm mode: a holder that lost goes back to standby and takes over again later', async () => {
      const name = fresh();
      const s = store();
      const a = lease({ name, store: s, mode: 'warm' });
      const held = await a.acquire();
      const forced = await promoteLease(s, name, { force: true });
      await nextEvent(a.events$, 'lost');
      expect(held.signal.aborted).toBe(true);
      // It contends again on its own and wins the free lease with a fresh token (the forced
      // promotion cleared the holder: nothing to wait out; the bound only guards against a hang).
      await waitFor(() => a.state.status === 'active', 10_000);
      expect(a.current?.token).toBeGreaterThan(forced.token);
    });

    it('assertHeld fences writes in the caller transaction: current token passes, a stale one throws', async () => {
      const name = fresh();
      const s = store();
      const a = lease({ name, store: s });
      const held = await a.acquire();
      await s.transaction(async (tx) => {
        await a.assertHeld(tx);
        await s.assertHeld(tx, name, held.token);
      });
      await expect(s.transaction((tx) => s.assertHeld(tx, name, held.token - 1))).rejects.toBeInstanceOf(FencingError);
      await a.release();
      // Released: even the last token is no longer current.
      await expect(s.transaction((tx) => s.assertHeld(tx, name, held.token))).rejects.toBeInstanceOf(FencingError);
      const b = lease({ name, store: s });
      const heldB = await b.acquire();
      const error = await s.transaction((tx) => a.assertHeld(tx, held.token)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(FencingError);
      expect((error as FencingError).currentToken).toBe(heldB.token);
      await expect(s.transaction((tx) => a.assertHeld(tx))).rejects.toBeInstanceOf(FencingError);
      await s.transaction((tx) => b.assertHeld(tx));
    });

    it('assertHeld rejects a holder whose lease expired by the database clock', async () => {
      const name = fresh();
      const s = store();
      const a = lease({ name, store: s });
      const held = await a.acquire();
      blockEventLoop(W + 20); // no renewal: expired by DB time as well
      await expect(s.transaction((tx) => s.assertHeld(tx, name, held.token))).rejects.toBeInstanceOf(FencingError);
    });

    if (target.lockRow) {
      const lockRow = target.lockRow.bind(target);
      it('a renewal that hangs (row lock held elsewhere) does not extend anything: the holder fences itself', async () => {
        const name = fresh();
        const a = lease({ name });
        const held = await a.acquire();
        /** No earlier than the send of the last successful write (its deadline is that send + < W). */
        let lastWriteSentAt = performance.now();
        const failures: number[] = [];
        a.events$.subscribe((e) => {
          if (e.type === 'renew-failed') failures.push(e.consecutive);
          if (e.type === 'renewed') lastWriteSentAt = performance.now() - e.latencyMs;
        });
        const unlock = await lockRow(table, name);
        try {
          // Valid never past W after the last successful renewal's send, however late timers run
          // (isValid() reads the clock): the hung renewal extended nothing. Then lost, self-fenced.
          const lost = nextEvent(a.events$, 'lost');
          let isLost = false;
          void lost.then(() => (isLost = true));
          while (!isLost) {
            // The clock read BEFORE isValid(): a read after it could come late (the process
            // descheduled between the two under load) and a valid answer look past its deadline.
            const askedAt = performance.now();
            if (held.isValid()) expect(askedAt).toBeLessThan(lastWriteSentAt + W);
            await delay(5);
          }
          expect((await lost).cause).toBe('self-fenced');
          expect((held.signal.reason as LeaseLostError).reason).toBe('self-fenced');
          expect(held.isValid()).toBe(false);
          expect(failures.length).toBeGreaterThanOrEqual(1);
        } finally {
          await unlock();
        }
      });
    }

    it('close() stops every timer and socket: no handle left', async () => {
      const baseline = activeResources().length;
      const s = storeFromUrl(target.url, { table });
      const a = createLease({ store: s, name: fresh(), machineName: 'm', updateInterval: U, waitInterval: W, mode: 'warm' });
      const b = createLease({ store: s, name: a.name, machineName: 'n', updateInterval: U, waitInterval: W, mode: 'warm' });
      await a.acquire();
      const pendingB = b.acquire().catch((e: unknown) => e);
      await delay(U);
      await b.close();
      expect(await pendingB).toBeInstanceOf(Error);
      await a.close();
      expect(a.state.status).toBe('closed');
      await s.close();
      await waitFor(() => activeResources().length <= baseline, 2_000, 20);
      await expect(a.acquire()).rejects.toThrow(/closed/);
    });

    it('two processes creating the table at the same moment both succeed', async () => {
      const raceTable = uniqueTable(`race_${dialect}`);
      try {
        const children = [0, 1].map(() => spawnTs('test/lease/fixtures/create-table.ts', [target.url, raceTable], { stdin: true }));
        // Go when both say ready, not at a clock time 1.5 s ahead: each starts through tsx (seconds under load), which left them racing nothing.
        expect(await Promise.all(children.map((c) => firstLine(c)))).toEqual([{ ready: true }, { ready: true }]);
        const results = Promise.all(children.map((c) => firstLine(c)));
        for (const c of children) c.stdin?.end('go\n');
        expect(await results).toEqual([{ ok: true }, { ok: true }]);
        expect(await Promise.all(children.map((c) => exited(c)))).toEqual([0, 0]);
      } finally {
        await target.drop(raceTable);
      }
      // Two processes through tsx at once, waited for twice (ready, then done): firstLine's bound each.
    }, 150_000);
  });
}
