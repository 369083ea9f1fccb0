import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openEmbeddedBackend } from 'spool-tasks/embedded';
import { afterAll } from 'vitest';
import { describeConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'spool-conformance-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let n = 0;

describeConformance({
  name: 'embedded (SQLite)',
  async create({ now }) {
    return openEmbeddedBackend({ path: join(dir, `t${n++}.db`), now });
  },
});
