import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mallocTrim } from '../../../src/sys/malloc.js';

const heapRssKb = () => {
  let name = '';
  let kb = 0;
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const m = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (m) name = m[1]!.trim();
    else if (name === '[heap]' && line.startsWith('Rss:')) kb += Number(line.split(/\s+/)[1]);
  }
  return kb;
};

test('malloc_trim gives free heap pages back: [heap] RSS after it is no larger than before', () => {
  const before = heapRssKb();
  const trimmed = mallocTrim();
  assert.equal(typeof trimmed, 'boolean');
  assert.ok(heapRssKb() <= before, `[heap] ${before} -> ${heapRssKb()} kB`);
});
