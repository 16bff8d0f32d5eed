/** `hotcold node` — placeholder until implemented. */
export async function runNodeCommand(_argv: string[]): Promise<number> {
  process.stderr.write('hotcold node: not implemented yet\n');
  return 1;
}
