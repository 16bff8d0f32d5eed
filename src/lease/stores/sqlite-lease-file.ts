
/**
 * Where the lease row lives for an application database: a file of its own beside it, so that
 * the application's write lock (held for a whole call, and kept by a frozen process) never covers
 * the lease. `:memory:` stays in memory (one process only, so nothing else can freeze on it).
 */
export function leasePathFor(appPath: string, inMemory: boolean): string {
  return inMemory || appPath === ':memory:' ? ':memory:' : `${appPath}-lease`;
}

/**
 * Whether a statement names the lease table (as a whole identifier, quoted or not, with or
 * without a schema): such statements run on the lease file's connection, not the application's.
 */
export function namesTable(table: string): (sql: string) => boolean {
  const pattern = new RegExp(`(^|[^A-Za-z0-9_$])${table}($|[^A-Za-z0-9_$])`, 'i');
  return (sql) => pattern.test(sql);
}
