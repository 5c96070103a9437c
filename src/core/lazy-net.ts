// node:net, loaded at first use: it brings Node's whole stream stack, which a start's critical path (order in,
// verdict out, one spawn) does without (cost: RELIABILITY.md). Types come from `import type`, which costs nothing.
import { bundleRequire } from '../bundle-require.js';

type Net = typeof import('node:net');
let net: Net | undefined;

export function nodeNet(): Net {
  return (net ??= bundleRequire()('node:net') as Net);
}
