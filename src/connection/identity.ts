import type { NodeIdentity } from './types.js';

/**
 * Tracks which node is serving, from `X-Hotcold-Node`/`X-Hotcold-Epoch` on answers and healthy
 * probes. The epoch is the lease's fencing token, so it only rises: an answer carrying a lower
 * epoch is a late reply from the node that was deposed, and must not be taken for a failover
 * back to it.
 */
export class IdentityTracker {
  private node: string | undefined;
  private epoch: number | undefined;

  get current(): NodeIdentity {
    return { node: this.node, epoch: this.epoch };
  }

  /** Cheap when nothing changed (the success path calls this on every answer). */
  isSame(node: string | undefined, epoch: number | undefined): boolean {
    return node === this.node && epoch === this.epoch;
  }

  /**
   * Records an identity; returns the previous one when this is a change of serving node
   * (a failover), `null` when it is the first identity seen or nothing changed or it is stale.
   */
  observe(node: string | undefined, epoch: number | undefined): NodeIdentity | null {
    if (node === undefined && epoch === undefined) return null;
    if (node === this.node && epoch === this.epoch) return null;
    const first = this.node === undefined && this.epoch === undefined;
    if (!first && epoch !== undefined && this.epoch !== undefined) {
      if (epoch < this.epoch) return null; // a deposed node's late answer
    }
    const previous = { node: this.node, epoch: this.epoch };
    this.node = node;
    this.epoch = epoch;
    return first ? null : previous;
  }

  /** {@link observe} would report a failover for this identity (and records nothing). */
  isFailover(node: string | undefined, epoch: number | undefined): boolean {
    if (node === undefined && epoch === undefined) return false;
    if (node === this.node && epoch === this.epoch) return false;
    if (this.node === undefined && this.epoch === undefined) return false;
    return epoch === undefined || this.epoch === undefined || epoch >= this.epoch;
  }
}
