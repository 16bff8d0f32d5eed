import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { leaseSuite } from './lease-suite.js';

const dir = mkdtempSync(join(tmpdir(), 'hotcold-lease-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

leaseSuite('sqlite', {
  url: `sqlite:${join(dir, 'lease.db')}`,
  async drop() {
    // the temporary directory goes away with the file
  },
});
