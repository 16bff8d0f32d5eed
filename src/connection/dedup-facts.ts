/**
 * What the client learned about deduplication, scoped to who said it (issue 8 §1): `X-Hotcold-Dedup`
 * on an answer is a statement by ONE node in ONE term (fencing epoch) behind ONE backend URL. It
 * is never applied to another node, another term or another backend: after a failover the new
 * node must advertise it again before a "maybe" non-idempotent call is repeated on the strength of
 * it. Kept per backend, replaced by each answer, forgotten when the backend's serving identity
 * changes.
 */
export interface DedupStatement {
  readonly node: string | undefined;
  readonly epoch: number | undefined;
}

export class DedupFacts {
  private readonly byBackend = new Map<string, DedupStatement>();
  /** Backends where some node, in some term, ever advertised dedup: worth asking for proof. */
  private readonly everAdvertised = new Set<string>();
  /** Backends that answered without the header at least once: their deployment has spoken. */
  private readonly answeredWithout = new Set<string>();
  /** The last backend added to `answeredWithout`: the success path skips the set when unchanged. */
  private lastWithout: string | undefined;

  /** An answer from `backend` by `node`/`epoch` did (or did not) carry `X-Hotcold-Dedup: 1`. Cheap when unchanged. */
  record(backend: string, node: string | undefined, epoch: number | undefined, dedup: boolean): void {
    if (!dedup) {
      if (backend !== this.lastWithout) {
        this.lastWithout = backend;
        this.answeredWithout.add(backend);
      }
      // The success path against a deployment that never advertised: nothing to look up.
      if (this.byBackend.size === 0) return;
    }
    const known = this.byBackend.get(backend);
    if (dedup) {
      if (known === undefined || known.node !== node || known.epoch !== epoch) {
        if (known !== undefined && isOlder(epoch, known.epoch)) return;
        this.byBackend.set(backend, { node, epoch });
        this.everAdvertised.add(backend);
      }
    } else if (known !== undefined && !isOlder(epoch, known.epoch)) {
      // An answer without the header revokes it. A deposed node's late answer (a lower epoch)
      // neither grants nor revokes the current term's statement.
      this.byBackend.delete(backend);
    }
  }

  /** Whether the node now serving `backend` (`node`, `epoch`) advertised dedup in this term. */
  holds(backend: string, node: string | undefined, epoch: number | undefined): boolean {
    const known = this.byBackend.get(backend);
    return known !== undefined && known.node === node && known.epoch === epoch;
  }

  /**
   * Some node behind `backend` once advertised dedup. Not proof of anything about the node that
   * serves now — only a reason to ask it (client/dedup-proof.ts) instead of giving up at once.
   */
  wasAdvertised(backend: string): boolean {
    return this.everAdvertised.has(backend);
  }

  /**
   * Nothing behind `backend` has answered yet, with the header or without it: whether it
   * deduplicates is unknown, not denied. A client whose first calls are all cut (a planned
   * switchover while they queue on the draining node) is in this state; asking the backend is
   * then the only way to learn it, and the proof (client/dedup-proof.ts) decides as always.
   */
  isUnknown(backend: string): boolean {
    return !this.everAdvertised.has(backend) && !this.answeredWithout.has(backend);
  }

  /** The serving identity behind `backend` changed: whatever its predecessor said is void. */
  forget(backend: string): void {
    this.byBackend.delete(backend);
  }
}

function isOlder(epoch: number | undefined, than: number | undefined): boolean {
  return epoch !== undefined && than !== undefined && epoch < than;
}
