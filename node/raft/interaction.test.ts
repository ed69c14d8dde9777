// Data-driven interaction tests: each node/raft/testdata/*.txt script is run through
// InteractionEnv and every command's output is compared with the expectation written
// under it. UPDATE_GOLDEN=1 npx vitest run node/raft rewrites the expectations.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InteractionEnv, formatScript, parseScript, scriptComments } from './interaction-env.js';

const dir = join(import.meta.dirname, 'testdata');
const update = process.env['UPDATE_GOLDEN'] === '1';

describe('raft interaction scripts', () => {
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.txt')).sort()) {
    it(file, () => {
      const path = join(dir, file);
      const text = readFileSync(path, 'utf8');
      const blocks = parseScript(text);
      const env = new InteractionEnv();
      const results = blocks.map((b) => ({ commandLine: b.commandLine, output: env.run(b.commandLine), expected: b.expected }));
      if (update) {
        writeFileSync(path, formatScript(results, scriptComments(text)));
        return;
      }
      for (const r of results) expect(`${r.commandLine}\n${r.output}`).toBe(`${r.commandLine}\n${r.expected}`);
    });
  }
});
