/** `hotcold demo` — placeholder until implemented. */
export async function runDemoCommand(_argv: string[]): Promise<number> {
  process.stderr.write('hotcold demo: not implemented yet\n');
  return 1;
}
