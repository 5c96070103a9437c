// The logs measurement's worker: writes 100-byte lines to stdout as fast as it can for argv[2] seconds, then
// records how many it wrote in argv[3]/PID.count and exits 0. Each line ends with "W<pid:7> <seq:12> x...x", so
// every line can be checked for being intact and every number for being there once, whatever prefix a
// supervisor adds. argv[4] is the benchmark's marker.
import { writeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const seconds = Number(process.argv[2]);
const countDir = process.argv[3];
const LINE = 100;
const PER_CHUNK = 655; // 65,500 bytes a write
const buf = Buffer.alloc(LINE * PER_CHUNK, 'x');
const id = `W${String(process.pid).padStart(7, '0')} `;
for (let i = 0; i < PER_CHUNK; i++) {
  buf.write(id, i * LINE, 'latin1');
  buf[i * LINE + 9 + 12] = 0x20;
  buf[i * LINE + LINE - 1] = 0x0a;
}
const wait = new Int32Array(new SharedArrayBuffer(4));
function writeAll(b) {
  let off = 0;
  while (off < b.length) {
    try {
      off += writeSync(1, b, off, b.length - off);
    } catch (e) {
      if (e.code !== 'EAGAIN') throw e;
      Atomics.wait(wait, 0, 0, 1);
    }
  }
}
let seq = 0;
const end = Date.now() + seconds * 1000;
while (Date.now() < end) {
  for (let i = 0; i < PER_CHUNK; i++) {
    let v = seq++;
    const at = i * LINE + 9;
    for (let d = 11; d >= 0; d--) {
      buf[at + d] = 48 + (v % 10);
      v = Math.floor(v / 10);
    }
  }
  writeAll(buf);
}
writeFileSync(join(countDir, `${process.pid}.count`), String(seq));
