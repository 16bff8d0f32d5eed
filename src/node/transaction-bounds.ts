import type { Dialect, SqlExecutor } from '../lease/types.js';
import { combineSets, transactionBounds, type BoundStatement } from './sql-dialect.js';

/**
 * The step every node transaction runs first (calls and the dedup cleanup): it sets the
 * server-side bounds of {@link transactionBounds}. On MariaDB/MySQL the SETs go as one statement;
 * if that fails (MySQL proper lacks an optional variable) they are tried one by one once, the
 * unsupported optional ones are dropped for good and reported through `onUnsupported`. A failed
 * SET leaves an InnoDB transaction usable. On PostgreSQL every variable exists: errors propagate.
 */
export function boundsPreparer(
  dialect: Dialect,
  bounds: { statementMs: number | false; idleMs: number | false },
  onUnsupported: (sql: string, error: unknown) => void,
): ((tx: SqlExecutor) => Promise<void>) | undefined {
  const initial = transactionBounds(dialect, bounds);
  if (initial.length === 0) return undefined;
  // Owned by this node's preparer (not module state): the statements still known to work.
  const state: { statements: BoundStatement[]; probed: boolean } = { statements: initial, probed: dialect !== 'mysql' };
  return async (tx) => {
    if (state.statements.length === 0) return;
    if (state.probed) {
      await tx.execute(dialect === 'mysql' ? combineSets(state.statements) : state.statements[0]!.sql);
      return;
    }
    try {
      await tx.execute(combineSets(state.statements));
      state.probed = true;
      return;
    } catch {
      // Find which SET is missing: one by one, once.
    }
    const kept: BoundStatement[] = [];
    for (const statement of state.statements) {
      try {
        await tx.execute(statement.sql);
        kept.push(statement);
      } catch (error) {
        if (!statement.optional) throw error;
        onUnsupported(statement.sql, error);
      }
    }
    state.statements = kept;
    state.probed = true;
  };
}
