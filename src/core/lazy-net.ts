// node:net, loaded at first use: it brings Node's whole stream stack, which a start's critical path (order in,
// verdict out, one spawn) does without (cost: RELIABILITY.md). Types come from `import type`, which costs nothing.
import { createRequire } from 'node:module';

type Net = typeof import('node:net');
let net: Net | undefined;

export function nodeNet(): Net {
  return (net ??= createRequire(import.meta.url)('node:net') as Net);
}
