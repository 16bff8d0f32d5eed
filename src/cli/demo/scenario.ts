import { monotonicNow } from '../../shared/clock.js';
import { sleep } from '../../shared/sleep.js';
import { startBalancer, type BalancerKind } from './balancer.js';
import type { CallRecord } from './call-log.js';
import { createDemoClient } from './demo-client.js';
import type { RunDatabase } from './database.js';
import { checkLedger, type LedgerVerdict } from './ledger-check.js';
import { httpJson } from './http-get.js';
import { readLedgerKeys, transferEpoch, transferParams } from './ledger.js';
import { longestOkGap, slowestCallMs, startLoad } from './load.js';
import { spawnNodeProcess, type NodeProcess } from './node-process.js';
import { summaryFromVerdict, type LiveStatus, type RunSummary } from './report.js';
import { Resources } from './resources.js';
import { setRepeating } from '../../shared/timer.js';
import { createTimelineRecorder, type NodeHealthState, type RunTimeline } from './timeline.js';

/**
 * One failover run, shared by `hotcold demo`, the end-to-end suite and the failover bench: two
 * `hotcold node` processes on one lease database, a balancer, a client under keyed
 * non-idempotent load, one fault, then the ledger check.
 */

export type Scenario = RunSummary['scenario'];

export interface ScenarioOptions {
  scenario: Scenario;
  db: RunDatabase;
  lb: BalancerKind;
  /** A balancer config template instead of the shipped one (HAProxy, nginx). */
  balancerTemplate?: string;
  callers: number;
  updateIntervalMs?: number;
  waitIntervalMs?: number;
  checkIntervalMs?: number;
  /** Load before the fault. */
  warmupMs?: number;
  /** Load after the standby has taken over. */
  afterMs?: number;
  /** Live status every `statusIntervalMs`. */
  onStatus?: (status: LiveStatus) => void;
  statusIntervalMs?: number;
  /** Progress messages ("killing node-a"). */
  onLog?: (message: string) => void;
  /** Lines the node processes print (for debugging). */
  onNodeLine?: (machine: string, line: string) => void;
  /** Aborts the run (Ctrl-C): everything is still cleaned up. */
  signal?: AbortSignal;
}

export interface ScenarioResult {
  summary: RunSummary;
  verdict: LedgerVerdict;
  records: CallRecord[];
  /** The run over time (calls per node, node states, outage, retries, failures): the HTML report's data. */
  timeline: RunTimeline;
  /** For the freeze scenario: whether the resumed old node refused to serve (it must). */
  frozenNodeFenced?: boolean | undefined;
  /** What the resumed node answered, for the report. */
  frozenNodeDetail?: string | undefined;
  /**
   * For the rejoin scenario: when (monotonic ms) the killed node was back on its address and
   * reported itself a standby. Calls started after it must still succeed.
   */
  rejoinedAt?: number | undefined;
  /** Process ids of every node (and balancer) the run started: all gone when it returns. */
  pids: number[];
  /** Health sampling rounds (every ~50 ms) in which both nodes answered 200: must be 0. */
  bothActiveSamples: number;
  healthSamples: number;
}

const POLL_MS = 25;

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, signal?: AbortSignal): Promise<T> {
  const until = monotonicNow() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (monotonicNow() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(POLL_MS, signal);
  }
}

async function activeNode(nodes: readonly NodeProcess[], except?: NodeProcess): Promise<{ node: NodeProcess; epoch: number | undefined } | undefined> {
  for (const node of nodes) {
    if (node === except || node.child.hasExited()) continue;
    const health = await node.health(300);
    if (health?.status === 200) return { node, epoch: typeof health.body?.epoch === 'number' ? health.body.epoch : undefined };
  }
  return undefined;
}

export async function runScenario(options: ScenarioOptions): Promise<ScenarioResult> {
  const updateIntervalMs = options.updateIntervalMs ?? 200;
  const waitIntervalMs = options.waitIntervalMs ?? 1000;
  const checkIntervalMs = options.checkIntervalMs ?? 100;
  const warmupMs = options.warmupMs ?? 1500;
  const afterMs = options.afterMs ?? 2000;
  const log = options.onLog ?? (() => undefined);
  const signal = options.signal;
  const resources = new Resources();
  const started = monotonicNow();
  const recorder = createTimelineRecorder(started);
  let frozenNodeFenced: boolean | undefined;
  let frozenNodeDetail: string | undefined;
  let rejoinedAt: number | undefined;
  const pids: number[] = [];

  try {
    const spawn = async (machine: string, restart?: { port: number }): Promise<NodeProcess> => {
      const pending = spawnNodeProcess({
        machine,
        // A restart starts while the other node is under full load: give it more time.
        ...(restart ? { port: restart.port, readyTimeoutMs: 30_000 } : {}),
        db: options.db.url,
        updateIntervalMs,
        waitIntervalMs,
        ...(options.onNodeLine ? { onLine: (line: string) => options.onNodeLine?.(machine, line) } : {}),
      });
      // Owned before it is ready: a Ctrl-C or the other node's failure while this one starts
      // must still stop it (a start that failed has cleaned up after itself).
      resources.add(machine, async () => {
        const started = await pending.catch(() => undefined);
        await started?.child.stop({ signal: 'SIGKILL' });
      });
      const node = await pending;
      pids.push(node.child.pid);
      log(`${machine} listening on ${node.url} (pid ${node.child.pid})`);
      return node;
    };

    let nodes: NodeProcess[];
    if (options.scenario === 'start-together') {
      log('starting node-a and node-b at the same time');
      nodes = await Promise.all([spawn('node-a'), spawn('node-b')]);
    } else {
      // node-a gets a head start so that it normally wins the lease; the processes' start-up
      // (seconds under tsx on a busy machine) overlaps. Whoever wins, the run follows the
      // actual holder.
      log('starting node-a, then node-b as its warm standby');
      const a = spawn('node-a');
      a.catch(() => undefined); // awaited below; this only keeps an early failure from being "unhandled"
      await sleep(300, signal);
      nodes = await Promise.all([a, spawn('node-b')]);
    }
    await waitFor('a node to hold the lease', () => activeNode(nodes), 15_000, signal);
    const sampler = sampleBothActive(nodes, (at, answers) => recorder.healthRound(at, answers));
    resources.add('health sampler', async () => {
      await sampler.stop();
    });

    log(`starting the ${options.lb === 'haproxy' ? 'HAProxy' : options.lb === 'nginx' ? 'nginx' : 'dev'} balancer`);
    const balancer = await startBalancer(
      options.lb,
      nodes.map((n) => ({ name: n.machine, port: n.port })),
      checkIntervalMs,
      options.balancerTemplate !== undefined ? { template: options.balancerTemplate } : {},
    );
    if (balancer.pid !== undefined) pids.push(balancer.pid);
    resources.add('balancer', () => balancer.stop());
    await waitFor('the balancer to route to the hot node', async () => ((await balancer.health())?.status === 200 ? true : undefined), 10_000, signal);

    const client = createDemoClient(balancer.url);
    resources.add('client', () => client.close());
    let retried = 0;
    const failovers: Array<{ at: number; node: string | undefined; epoch: number | undefined; from: string | undefined }> = [];
    const subscription = client.events$.subscribe((event) => {
      if (event.type === 'retry') {
        retried += 1;
        recorder.retry(monotonicNow());
      }
      if (event.type === 'failover') failovers.push({ at: monotonicNow(), node: event.to.node, epoch: event.to.epoch, from: event.from.node });
      if (event.type === 'failover' || event.type === 'state') recorder.clientSaw(monotonicNow(), client.state.node, client.state.epoch);
    });
    resources.add('client events', async () => subscription.unsubscribe());

    const loadStartedAt = monotonicNow();
    recorder.loadStarted(loadStartedAt);
    const load = startLoad({ callers: options.callers, call: (m, p, o) => client.call(m, p, o), method: 'transfer', params: transferParams, epochOf: transferEpoch });
    resources.add('load', async () => {
      await load.stop();
    });

    let phase = options.scenario === 'start-together' ? 'load' : 'warm-up';
    let faultAt: number | undefined;
    let tookOverAt: number | undefined;
    const status = (): LiveStatus => {
      const stats = load.stats();
      const now = monotonicNow();
      const sinceOk = stats.lastOkAt === undefined ? now - started : now - stats.lastOkAt;
      return {
        elapsedMs: now - started,
        phase,
        node: client.state.node,
        epoch: client.state.epoch,
        ok: stats.ok,
        retried,
        failed: stats.failed,
        outageMs: sinceOk > 150 ? sinceOk : 0,
      };
    };
    if (options.onStatus) {
      const timer = setRepeating(() => options.onStatus?.(status()), options.statusIntervalMs ?? 250);
      resources.add('status timer', async () => timer.clear());
    }

    await sleep(warmupMs, signal);
    if (options.scenario !== 'start-together') {
      // A failover is from a node the client has had an answer from: on a starved machine the
      // first answers can take longer than the warm-up, and a fault before any of them would be
      // the client's first contact with the standby, not a failover it could report.
      await waitFor('the first answer to the client', async () => (load.stats().ok > 0 ? true : undefined), 30_000, signal);
    }
    const hot = await waitFor('the hot node', () => activeNode(nodes), 5000, signal);
    const standby = nodes.find((n) => n !== hot.node);
    if (!standby) throw new Error('no standby node');

    if (options.scenario !== 'start-together') {
      faultAt = monotonicNow();
      const what = options.scenario === 'crash' || options.scenario === 'rejoin' ? 'SIGKILL' : options.scenario === 'freeze' ? 'SIGSTOP' : 'SIGTERM (drain)';
      recorder.mark(faultAt, 'fault', `${what} ${hot.node.machine}`);
      if (options.scenario === 'crash' || options.scenario === 'rejoin') {
        phase = 'crashed';
        log(`SIGKILL ${hot.node.machine} (pid ${hot.node.child.pid}), the hot node`);
        hot.node.child.signal('SIGKILL');
      } else if (options.scenario === 'freeze') {
        phase = 'frozen';
        log(`SIGSTOP ${hot.node.machine} (pid ${hot.node.child.pid}), the hot node`);
        hot.node.child.signal('SIGSTOP');
      } else {
        phase = 'draining';
        log(`SIGTERM ${hot.node.machine}: planned switchover (drain, then release the lease)`);
        hot.node.child.signal('SIGTERM');
      }
      const next = await waitFor(`${standby.machine} to take over`, () => activeNode([standby]), 10_000, signal);
      tookOverAt = monotonicNow();
      recorder.mark(tookOverAt, 'takeover', `${standby.machine} active (epoch ${next.epoch ?? '?'})`);
      phase = 'took over';
      log(`${standby.machine} holds the lease (epoch ${next.epoch ?? '?'}) after ${Math.round(monotonicNow() - faultAt)} ms`);
      if (options.scenario === 'freeze') {
        await sleep(300, signal);
        log(`SIGCONT ${hot.node.machine}: it must find its lease gone and refuse to serve`);
        hot.node.child.signal('SIGCONT');
        recorder.mark(monotonicNow(), 'note', `SIGCONT ${hot.node.machine}`);
        const fencing = await checkFenced(hot.node, signal);
        frozenNodeFenced = fencing.fenced;
        frozenNodeDetail = fencing.detail;
        log(`${hot.node.machine} ${fencing.fenced ? 'fenced itself' : 'DID NOT fence itself'} (${fencing.detail})`);
      }
      if (options.scenario === 'rejoin') {
        // The killed node comes back on the same address, as the standby: the balancer must
        // keep the calls on the hot node although the old address answers again.
        log(`restarting ${hot.node.machine} on port ${hot.node.port} as the standby`);
        const back = await spawn(hot.node.machine, { port: hot.node.port });
        nodes.push(back); // the split-brain sampler watches it too
        await waitFor(`${back.machine} to report it is the standby`, async () => {
          const health = await back.health(500);
          return health !== undefined && health.status !== 200 ? true : undefined;
        }, 10_000, signal);
        rejoinedAt = monotonicNow();
        recorder.mark(rejoinedAt, 'note', `${back.machine} back as standby`);
        phase = 'rejoined';
        log(`${back.machine} is back as the standby`);
      }
    }
    await sleep(afterMs, signal);
    phase = 'stopping';
    const records = await load.stop();
    const endedAt = monotonicNow();
    options.onStatus?.(status());

    const { both: bothActiveSamples, rounds: healthSamples } = await sampler.stop();
    const verdict = checkLedger(records, await readLedgerKeys(options.db));
    const from = faultAt ?? loadStartedAt;
    // The failover's outage: the longest stretch without a successful call from the fault up to
    // the first success after the standby took over. Later gaps (a node losing its lease under
    // load, say) are reported separately, not blamed on the failover.
    const takeoverOkAt = tookOverAt === undefined ? undefined : firstOkAfter(records, tookOverAt);
    const windowEnd = takeoverOkAt === undefined || tookOverAt === undefined ? endedAt : tookOverAt + takeoverOkAt;
    const gap = longestOkGap(records, from, windowEnd);
    const anyGap = longestOkGap(records, from, endedAt);
    const firstFailover = failovers.find((f) => faultAt !== undefined && f.at >= faultAt);
    const takeoverMs = faultAt === undefined ? undefined : firstFailover ? firstFailover.at - faultAt : firstOkAfter(records, faultAt);
    const last = failovers[failovers.length - 1];
    const summary = summaryFromVerdict(verdict, {
      scenario: options.scenario,
      db: options.db.kind,
      lb: options.lb,
      callers: options.callers,
      retried,
      outageMs: gap.gapMs,
      longestGapMs: anyGap.gapMs,
      takeoverMs,
      failovers: failovers.length,
      slowestCallMs: slowestCallMs(records),
      slowestFailoverCallMs: slowestCallOverlapping(records, from, windowEnd),
      from: { node: hot.node.machine, epoch: hot.epoch },
      to: last ? { node: last.node, epoch: last.epoch } : { node: client.state.node, epoch: client.state.epoch },
      takeover: firstFailover ? { node: firstFailover.node, epoch: firstFailover.epoch } : undefined,
      durationMs: endedAt - started,
    });
    if (frozenNodeFenced === false || bothActiveSamples > 0) summary.ok = false;
    const timeline = recorder.finish({ records, endedAt, outage: gap.gapMs > 0 ? { start: gap.start, end: gap.end } : undefined });
    return { summary, verdict, records, timeline, frozenNodeFenced, frozenNodeDetail, rejoinedAt, pids, bothActiveSamples, healthSamples };
  } finally {
    const errors = await resources.disposeAll();
    for (const error of errors) log(error.message);
  }
}

/** The slowest call that was in flight at some point in [from, to]. */
function slowestCallOverlapping(records: readonly CallRecord[], from: number, to: number): number {
  let slowest = 0;
  for (const r of records) if (r.endedAt >= from && r.startedAt <= to) slowest = Math.max(slowest, r.endedAt - r.startedAt);
  return slowest;
}

function firstOkAfter(records: readonly CallRecord[], t: number): number | undefined {
  let best: number | undefined;
  for (const r of records) if (r.outcome === 'ok' && r.endedAt > t && (best === undefined || r.endedAt < best)) best = r.endedAt;
  return best === undefined ? undefined : best - t;
}

/** After SIGCONT, the old holder must report not-active and refuse a call with 503 NOT_ACTIVE. */
async function checkFenced(node: NodeProcess, signal?: AbortSignal): Promise<{ fenced: boolean; detail: string }> {
  let last = 'no answer';
  try {
    await waitFor(`${node.machine} to report it is not active`, async () => {
      const health = await node.health(500);
      last = health === undefined ? 'no answer' : `health ${health.status} ${JSON.stringify(health.body)}`;
      return health !== undefined && health.status !== 200 ? true : undefined;
    }, 3000, signal);
  } catch {
    if (node.child.hasExited()) {
      // Not serving, but not the graceful self-fencing the lease promises either: report it.
      const lastLines = node.child.tail().split('\n').slice(-8).join(' | ');
      return { fenced: false, detail: `${node.machine} EXITED after SIGCONT instead of fencing itself: ${lastLines}` };
    }
    return { fenced: false, detail: `still not reporting not-active after 3 s: ${last}` };
  }
  // A busy machine may delay the answer; a missing answer proves nothing either way, so ask again.
  let answer: Awaited<ReturnType<typeof httpJson>>;
  for (let attempt = 0; attempt < 3 && answer === undefined; attempt++) {
    answer = await httpJson('POST', `${node.url}/rpc`, 2000, { jsonrpc: '2.0', id: 1, method: 'balance', params: { account: 'A' } });
  }
  const detail = `${last}; a call got ${answer === undefined ? 'no answer' : `${answer.status} ${JSON.stringify(answer.body)}`}`;
  return { fenced: answer?.status === 503 && answer.body?.error === 'NOT_ACTIVE', detail };
}

/**
 * Polls both nodes' /health directly, all the time: a round in which both say 200 would mean two
 * hot nodes at once (split brain), which the lease must make impossible.
 */
function sampleBothActive(
  nodes: readonly NodeProcess[],
  onRound?: (at: number, answers: Array<{ node: string; state: NodeHealthState; epoch: number | undefined }>) => void,
): { stop(): Promise<{ both: number; rounds: number }> } {
  let stopped = false;
  let both = 0;
  let rounds = 0;
  const loop = (async () => {
    while (!stopped) {
      const answers = await Promise.all(nodes.map((n) => (n.child.hasExited() ? Promise.resolve(undefined) : n.health(200))));
      rounds += 1;
      if (answers.filter((a) => a?.status === 200).length > 1) both += 1;
      onRound?.(monotonicNow(), answers.map((a, i) => ({ node: nodes[i]?.machine ?? '?', state: nodes[i]?.child.hasExited() === true ? 'exited' : healthState(a), epoch: typeof a?.body?.epoch === 'number' ? a.body.epoch : undefined })));
      await sleep(50);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { both, rounds };
    },
  };
}

function healthState(answer: { status: number; body: Record<string, unknown> | undefined } | undefined): NodeHealthState {
  if (answer === undefined) return 'down';
  if (answer.status === 200) return 'active';
  const said = answer.body?.status;
  return said === 'standby' || said === 'draining' || said === 'lost' ? said : 'down';
}
