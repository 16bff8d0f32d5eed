/** `hotcold lease` — placeholder until implemented. */
export async function runLeaseCommand(_argv: string[]): Promise<number> {
  process.stderr.write('hotcold lease: not implemented yet\n');
  return 1;
}
