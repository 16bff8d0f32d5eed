import type { Dialect, SqlExecutor } from '../lease/types.js';
import { combineSets, transactionBounds, type BoundStatement } from './sql-dialect.js';

/** Sets a node transaction's server-side bounds; `capMs` (the caller's remaining time) lowers the statement bound. */
export type BoundsPreparer = (tx: SqlExecutor, capMs?: number) => Promise<void>;

/** The variable a SET names, without its value: what is remembered as unsupported. */
const variableOf = (statement: BoundStatement): string => statement.sql.replace(/[\d.]+/g, '');

/**
 * The step every node transaction runs first (calls and the dedup cleanup): it sets the
 * server-side bounds of {@link transactionBounds}, the statement bound lowered to the caller's
 * remaining time when that is smaller. On MariaDB/MySQL the SETs go as one statement; if that
 * fails (MySQL proper lacks an optional variable) they are tried one by one once, the unsupported
 * optional ones are dropped for good and reported through `onUnsupported`. A failed SET leaves an
 * InnoDB transaction usable. On PostgreSQL every variable exists: errors propagate.
 */
export function boundsPreparer(
  dialect: Dialect,
  bounds: { statementMs: number | false; idleMs: number | false },
  onUnsupported: (sql: string, error: unknown) => void,
): BoundsPreparer | undefined {
  if (transactionBounds(dialect, bounds).length === 0) return undefined;
  // Owned by this node's preparer (not module state): what this server turned out to lack.
  const state: { unsupported: Set<string>; probed: boolean } = { unsupported: new Set(), probed: dialect !== 'mysql' };
  return async (tx, capMs) => {
    const statementMs = bounds.statementMs === false || capMs === undefined ? bounds.statementMs : Math.max(1, Math.min(bounds.statementMs, capMs));
    const statements = transactionBounds(dialect, { statementMs, idleMs: bounds.idleMs }).filter((s) => !state.unsupported.has(variableOf(s)));
    if (statements.length === 0) return;
    if (dialect !== 'mysql') {
      for (const statement of statements) await tx.execute(statement.sql);
      return;
    }
    if (state.probed) {
      await tx.execute(combineSets(statements));
      return;
    }
    try {
      await tx.execute(combineSets(statements));
      state.probed = true;
      return;
    } catch {
      // Find which SET is missing: one by one, once.
    }
    for (const statement of statements) {
      try {
        await tx.execute(statement.sql);
      } catch (error) {
        if (!statement.optional) throw error;
        state.unsupported.add(variableOf(statement));
        onUnsupported(statement.sql, error);
      }
    }
    state.probed = true;
  };
}
