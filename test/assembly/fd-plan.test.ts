// The fd plan in the compiled planner against a simulated kernel fd table: exact plans by hand, then random ones.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planner } from '../../src/core/wasm.js';

const INHERIT = 0;
const NULL = 1;
const APPEND = 2;
const TRUNCATE = 3;
const FROM = 4;
const OPEN = 1;
const DUP2 = 2;
const CLOSE = 3;
const CLOSEFROM = 4;

type Action = [number, number, number, number];

function plan(targets: number[], preserve: number[] = []): Action[] {
  const flat = Array.from(planner.planFds(Int32Array.from(targets), Int32Array.from(preserve)));
  assert.equal(flat.length % 4, 0, 'actions come 4 ints each');
  const out: Action[] = [];
  for (let i = 0; i < flat.length; i += 4) out.push(flat.slice(i, i + 4) as Action);
  return out;
}

const planError = (targets: number[], preserve: number[] = []) => planner.fdPlanError(Int32Array.from(targets), Int32Array.from(preserve));

// --- a kernel fd table, as posix_spawn's file actions and then exec see it ---

interface Entry {
  object: string;
  cloexec: boolean;
}
type Table = Map<number, Entry>;

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

// Parent fds 0..15 plus a few high ones unless told otherwise, each a distinct object, some not close-on-exec.
function parentTable(notCloexec: (fd: number) => boolean, open = [...range(16), 20, 64, 1000]): Table {
  const table: Table = new Map();
  for (const fd of open) {
    table.set(fd, { object: `parent#${fd}`, cloexec: !notCloexec(fd) });
  }
  return table;
}

const pathObject = (kind: number, index: number) => (kind === APPEND ? `append:${index}` : `truncate:${index}`);

// Runs the actions, then exec; returns the child's table as fd -> object, or throws on a read of a closed fd.
function execute(actions: Action[], parent: Table): Map<number, string> {
  const table: Table = new Map([...parent].map(([fd, e]) => [fd, { ...e }]));
  actions.forEach(([op, a, b, c], step) => {
    const at = `action ${step} [${op}, ${a}, ${b}, ${c}]`;
    if (op === OPEN) {
      assert.ok(b === NULL || b === APPEND || b === TRUNCATE, `${at}: open kind`);
      assert.ok(b === NULL ? c === -1 : c >= 0, `${at}: open arg`);
      // posix_spawn closes the fd first, then opens and moves the new file onto it.
      table.delete(a);
      table.set(a, { object: b === NULL ? '/dev/null' : pathObject(b, c), cloexec: false });
    } else if (op === DUP2) {
      assert.equal(c, 0, `${at}: padding`);
      const src = table.get(a);
      if (!src) throw new Error(`${at} reads closed fd ${a}`);
      // dup2(x, x) only clears close-on-exec; any other dup2 makes a fresh descriptor without it.
      if (a === b) src.cloexec = false;
      else table.set(b, { object: src.object, cloexec: false });
    } else if (op === CLOSE) {
      assert.deepEqual([b, c], [0, 0], `${at}: padding`);
      table.delete(a);
    } else if (op === CLOSEFROM) {
      assert.deepEqual([b, c], [0, 0], `${at}: padding`);
      for (const fd of [...table.keys()]) if (fd >= a) table.delete(fd);
    } else {
      throw new Error(`${at}: unknown opcode`);
    }
  });
  const child = new Map<number, string>();
  for (const [fd, e] of table) if (!e.cloexec) child.set(fd, e.object);
  return child;
}

// What the child must hold: exactly the targets and preserved fds.
function intent(targets: number[], preserve: number[], parent: Table): Map<number, string> {
  const want = new Map<number, string>();
  for (const fd of preserve) want.set(fd, parent.get(fd)!.object);
  for (let i = 0; i < targets.length; i += 3) {
    const [fd, kind, arg] = [targets[i]!, targets[i + 1]!, targets[i + 2]!];
    const object =
      kind === INHERIT
        ? parent.get(fd)!.object
        : kind === FROM
          ? parent.get(arg)!.object
          : kind === NULL
            ? '/dev/null'
            : pathObject(kind, arg);
    want.set(fd, object);
  }
  return want;
}

const sorted = (m: Map<number, string>) => [...m].sort((x, y) => x[0] - y[0]);

const allCloexec = parentTable(() => false);
const noneCloexec = parentTable(() => true);

// Checks a plan end to end: right shape, right result whatever the parent's flags, and no action that could be dropped.
function check(targets: number[], preserve: number[], mixed = allCloexec, extremes = [allCloexec, noneCloexec]) {
  assert.equal(planError(targets, preserve), '');
  const actions = plan(targets, preserve);
  const phase = actions.map(([op]) => (op === DUP2 ? 0 : op === OPEN ? 1 : op === CLOSE ? 2 : 3));
  assert.deepEqual(phase, [...phase].sort(), 'dup2s, then opens, then closes, then closefrom');
  assert.equal(phase.filter((p) => p === 3).length, 1, 'exactly one closefrom');
  for (const parent of [...extremes, mixed]) {
    assert.deepEqual(sorted(execute(actions, parent)), sorted(intent(targets, preserve, parent)));
  }
  // Each action is needed: without it, some parent ends up with the wrong table or a read of a closed fd.
  actions.forEach((action, i) => {
    const without = actions.filter((_, j) => j !== i);
    const breaks = extremes.some((parent) => {
      try {
        const got = sorted(execute(without, parent));
        return JSON.stringify(got) !== JSON.stringify(sorted(intent(targets, preserve, parent)));
      } catch {
        return true;
      }
    });
    assert.ok(breaks, `action ${i} ${JSON.stringify(action)} is redundant in ${JSON.stringify(actions)}`);
  });
  return actions;
}

test('the planner exports the opcodes and kinds this test assumes', () => {
  assert.deepEqual(
    [planner.FD_INHERIT, planner.FD_NULL, planner.FD_APPEND, planner.FD_TRUNCATE, planner.FD_FROM].map((g) => g.value),
    [INHERIT, NULL, APPEND, TRUNCATE, FROM],
  );
  assert.deepEqual(
    [planner.ACT_OPEN, planner.ACT_DUP2, planner.ACT_CLOSE, planner.ACT_CLOSEFROM].map((g) => g.value),
    [OPEN, DUP2, CLOSE, CLOSEFROM],
  );
});

test('hand-written plans', () => {
  const cases: [string, number[], number[], Action[]][] = [
    [
      'stdio to /dev/null',
      [0, NULL, 0, 1, NULL, 0, 2, NULL, 0],
      [],
      [
        [OPEN, 0, NULL, -1],
        [OPEN, 1, NULL, -1],
        [OPEN, 2, NULL, -1],
        [CLOSEFROM, 3, 0, 0],
      ],
    ],
    [
      'log files',
      [0, NULL, 7, 1, APPEND, 0, 2, TRUNCATE, 1],
      [],
      [
        [OPEN, 0, NULL, -1],
        [OPEN, 1, APPEND, 0],
        [OPEN, 2, TRUNCATE, 1],
        [CLOSEFROM, 3, 0, 0],
      ],
    ],
    [
      'inherited stdio',
      [0, INHERIT, 0, 1, INHERIT, 99, 2, INHERIT, 0],
      [],
      [
        [DUP2, 0, 0, 0],
        [DUP2, 1, 1, 0],
        [DUP2, 2, 2, 0],
        [CLOSEFROM, 3, 0, 0],
      ],
    ],
    [
      'the 1 <-> 3 swap',
      [0, NULL, 0, 1, FROM, 3, 2, INHERIT, 0, 3, FROM, 1],
      [],
      [
        [DUP2, 2, 2, 0],
        [DUP2, 1, 4, 0],
        [DUP2, 3, 1, 0],
        [DUP2, 4, 3, 0],
        [OPEN, 0, NULL, -1],
        [CLOSEFROM, 4, 0, 0],
      ],
    ],
    [
      'a 3-cycle',
      [0, NULL, 0, 1, NULL, 0, 2, NULL, 0, 3, FROM, 4, 4, FROM, 5, 5, FROM, 3],
      [],
      [
        [DUP2, 3, 6, 0],
        [DUP2, 4, 3, 0],
        [DUP2, 5, 4, 0],
        [DUP2, 6, 5, 0],
        [OPEN, 0, NULL, -1],
        [OPEN, 1, NULL, -1],
        [OPEN, 2, NULL, -1],
        [CLOSEFROM, 6, 0, 0],
      ],
    ],
    [
      'fd 5 kept, 3 and 4 closed',
      [0, NULL, 0, 1, NULL, 0, 2, NULL, 0],
      [5],
      [
        [DUP2, 5, 5, 0],
        [OPEN, 0, NULL, -1],
        [OPEN, 1, NULL, -1],
        [OPEN, 2, NULL, -1],
        [CLOSE, 3, 0, 0],
        [CLOSE, 4, 0, 0],
        [CLOSEFROM, 6, 0, 0],
      ],
    ],
    [
      'preserved fds that are also a target and a source',
      [0, NULL, 0, 1, INHERIT, 0, 2, FROM, 3],
      [3, 1, 3],
      [
        [DUP2, 1, 1, 0],
        [DUP2, 3, 3, 0],
        [DUP2, 3, 2, 0],
        [OPEN, 0, NULL, -1],
        [CLOSEFROM, 4, 0, 0],
      ],
    ],
    [
      'a source read twice inside a cycle',
      [1, FROM, 3, 2, FROM, 3, 3, FROM, 1],
      [],
      [
        [DUP2, 3, 2, 0],
        [DUP2, 1, 4, 0],
        [DUP2, 3, 1, 0],
        [DUP2, 4, 3, 0],
        [CLOSE, 0, 0, 0],
        [CLOSEFROM, 4, 0, 0],
      ],
    ],
    [
      'a chain moves from its free end',
      [1, FROM, 2, 2, FROM, 3, 3, FROM, 4],
      [],
      [
        [DUP2, 2, 1, 0],
        [DUP2, 3, 2, 0],
        [DUP2, 4, 3, 0],
        [CLOSE, 0, 0, 0],
        [CLOSEFROM, 4, 0, 0],
      ],
    ],
    [
      'a source read before it is opened over',
      [0, NULL, 0, 1, FROM, 0, 2, FROM, 1],
      [],
      [
        [DUP2, 1, 2, 0],
        [DUP2, 0, 1, 0],
        [OPEN, 0, NULL, -1],
        [CLOSEFROM, 3, 0, 0],
      ],
    ],
    [
      'FD_FROM its own number is inheriting',
      [0, NULL, 0, 1, NULL, 0, 2, NULL, 0, 3, FROM, 3],
      [],
      [
        [DUP2, 3, 3, 0],
        [OPEN, 0, NULL, -1],
        [OPEN, 1, NULL, -1],
        [OPEN, 2, NULL, -1],
        [CLOSEFROM, 4, 0, 0],
      ],
    ],
    [
      'stdin left out is closed, not inherited',
      [1, NULL, 0, 2, NULL, 0],
      [],
      [
        [OPEN, 1, NULL, -1],
        [OPEN, 2, NULL, -1],
        [CLOSE, 0, 0, 0],
        [CLOSEFROM, 3, 0, 0],
      ],
    ],
    ['nothing at all', [], [], [[CLOSEFROM, 0, 0, 0]]],
    [
      'a move from a high source',
      [0, FROM, 1000],
      [],
      [
        [DUP2, 1000, 0, 0],
        [CLOSEFROM, 1, 0, 0],
      ],
    ],
    [
      'a high source does not push the scratch fd up',
      [0, FROM, 1, 1, FROM, 0, 2, FROM, 1000],
      [],
      [
        [DUP2, 1000, 2, 0],
        [DUP2, 0, 3, 0],
        [DUP2, 1, 0, 0],
        [DUP2, 3, 1, 0],
        [CLOSEFROM, 3, 0, 0],
      ],
    ],
    [
      'a cycle next to a high source it does not read',
      [1, FROM, 2, 2, FROM, 1, 3, FROM, 64, 4, FROM, 3],
      [],
      [
        [DUP2, 3, 4, 0],
        [DUP2, 64, 3, 0],
        [DUP2, 1, 5, 0],
        [DUP2, 2, 1, 0],
        [DUP2, 5, 2, 0],
        [CLOSE, 0, 0, 0],
        [CLOSEFROM, 5, 0, 0],
      ],
    ],
    [
      'two cycles share the scratch fd',
      [0, FROM, 1, 1, FROM, 0, 2, FROM, 3, 3, FROM, 2],
      [],
      [
        [DUP2, 0, 4, 0],
        [DUP2, 1, 0, 0],
        [DUP2, 4, 1, 0],
        [DUP2, 2, 4, 0],
        [DUP2, 3, 2, 0],
        [DUP2, 4, 3, 0],
        [CLOSEFROM, 4, 0, 0],
      ],
    ],
  ];
  for (const [name, targets, preserve, want] of cases) {
    assert.deepEqual(plan(targets, preserve), want, name);
    check(targets, preserve);
  }
});

test('the plan does not depend on the order of targets or preserved fds', () => {
  const a = [3, FROM, 4, 0, NULL, 0, 4, FROM, 5, 2, APPEND, 1, 5, FROM, 3, 1, APPEND, 0];
  const b = [5, FROM, 3, 1, APPEND, 0, 2, APPEND, 1, 4, FROM, 5, 0, NULL, 0, 3, FROM, 4];
  assert.deepEqual(plan(a, [9, 7]), plan(b, [7, 9]));
});

test('invalid plans are rejected with a reason and plan nothing', () => {
  const cases: [number[], number[], string][] = [
    [[0, NULL], [], 'targets length 2 is not a multiple of 3 (fd, kind, arg)'],
    [[0, NULL, 0, 1], [], 'targets length 4 is not a multiple of 3 (fd, kind, arg)'],
    [[-1, NULL, 0], [], 'target fd -1 is negative'],
    [[1 << 20, NULL, 0], [], 'target fd 1048576 is above 1048575'],
    [[1, NULL, 0, 1, APPEND, 0], [], 'fd 1 is a target twice'],
    [[1, INHERIT, 0, 1, INHERIT, 0], [], 'fd 1 is a target twice'],
    [[1, 5, 0], [], 'fd 1: unknown kind 5'],
    [[1, -1, 0], [], 'fd 1: unknown kind -1'],
    [[1, FROM, -1], [], 'fd 1: source fd -1 is negative'],
    [[1, FROM, 1 << 20], [], 'fd 1: source fd 1048576 is above 1048575'],
    [[1, APPEND, -1], [], 'fd 1: path index -1 is negative'],
    [[1, TRUNCATE, -2], [], 'fd 1: path index -2 is negative'],
    [[], [-3], 'preserved fd -3 is negative'],
    [[], [1 << 20], 'preserved fd 1048576 is above 1048575'],
    [[3, NULL, 0], [3], 'fd 3 is preserved but also a target that replaces it'],
    [[3, FROM, 4], [3], 'fd 3 is preserved but also a target that replaces it'],
    [[3, APPEND, 0], [4, 3], 'fd 3 is preserved but also a target that replaces it'],
  ];
  for (const [targets, preserve, reason] of cases) {
    assert.equal(planError(targets, preserve), reason, JSON.stringify([targets, preserve]));
    assert.deepEqual(plan(targets, preserve), [], reason);
  }
  const valid: [number[], number[]][] = [
    [[1023, INHERIT, 0], [1023]],
    [[0, FROM, 1023, 1023, FROM, 0], []],
    [[3, INHERIT, 0], [3]],
    [
      [3, FROM, 3],
      [3, 3],
    ],
  ];
  // The host asks for the reason only when the plan is empty: a valid plan never is (it ends in closefrom).
  for (const [targets, preserve] of [...valid, [[], []] as [number[], number[]]]) {
    assert.equal(planError(targets, preserve), '', JSON.stringify([targets, preserve]));
    assert.equal(plan(targets, preserve).at(-1)?.[0], CLOSEFROM, JSON.stringify([targets, preserve]));
  }
});

test('fds at the top of the range', () => {
  // Here every fd the parent could have is open, so closing each gap matters.
  const full = [parentTable(() => false, range(1024)), parentTable(() => true, range(1024))];
  const actions = check([0, FROM, 1023, 1023, FROM, 0], [], full[0], full);
  assert.deepEqual(actions.slice(0, 3), [
    [DUP2, 0, 1024, 0],
    [DUP2, 1023, 0, 0],
    [DUP2, 1024, 1023, 0],
  ]);
  assert.deepEqual(actions.at(-1), [CLOSEFROM, 1024, 0, 0]);
  assert.equal(actions.filter(([op]) => op === CLOSE).length, 1022);
});

// mulberry32: small, seeded, so a failing plan can be replayed from its seed.
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Cycles among the moves, counted independently of the planner: each costs exactly one extra dup2.
function countCycles(targets: number[]): number {
  const from = new Map<number, number>();
  for (let i = 0; i < targets.length; i += 3) {
    if (targets[i + 1] === FROM && targets[i + 2] !== targets[i]) from.set(targets[i]!, targets[i + 2]!);
  }
  const seen = new Set<number>();
  let cycles = 0;
  for (const start of from.keys()) {
    const path: number[] = [];
    let fd: number | undefined = start;
    while (fd !== undefined && from.has(fd) && !seen.has(fd) && !path.includes(fd)) {
      path.push(fd);
      fd = from.get(fd);
    }
    if (fd !== undefined && path.includes(fd)) cycles++;
    for (const p of path) seen.add(p);
  }
  return cycles;
}

test('random plans run against a simulated fd table', () => {
  const PLANS = 3000;
  let withCycles = 0;
  let withPreserve = 0;
  for (let seed = 1; seed <= PLANS; seed++) {
    const rand = prng(seed);
    const int = (n: number) => Math.floor(rand() * n);
    const fds = range(13).sort(() => rand() - 0.5);
    const count = int(9);
    const chosen = fds.slice(0, count);
    const targets: number[] = [];
    // A quarter of the plans permute their fds among themselves, which makes cycles certain.
    const permute = int(4) === 0;
    const shuffled = [...chosen].sort(() => rand() - 0.5);
    chosen.forEach((fd, i) => {
      if (permute) return targets.push(fd, FROM, shuffled[i]!);
      const kind = int(5);
      const arg = kind === FROM ? int(13) : kind === APPEND || kind === TRUNCATE ? int(4) : int(100) - 50;
      return targets.push(fd, kind, arg);
    });
    const preserve: number[] = [];
    for (let k = int(4); k > 0; k--) {
      const fd = int(16);
      const at = targets.findIndex((t, i) => i % 3 === 0 && t === fd);
      const keeps = at < 0 || targets[at + 1] === INHERIT || (targets[at + 1] === FROM && targets[at + 2] === fd);
      if (keeps) preserve.push(fd);
    }
    if (preserve.length) withPreserve++;
    const cycles = countCycles(targets);
    if (cycles) withCycles++;
    const mixed = parentTable((fd) => rand() < 0.3);
    let actions: Action[];
    try {
      actions = check(targets, preserve, mixed);
    } catch (e) {
      const replay = `targets ${JSON.stringify(targets)} preserve ${JSON.stringify(preserve)}`;
      throw new Error(`seed ${seed}: ${replay}: ${(e as Error).message}`);
    }
    // dup2 count: one per kept fd, one per real move, one per cycle.
    const kept = new Set(preserve);
    let moves = 0;
    for (let i = 0; i < targets.length; i += 3) {
      const [fd, kind, arg] = [targets[i]!, targets[i + 1]!, targets[i + 2]!];
      if (kind === INHERIT || (kind === FROM && arg === fd)) kept.add(fd);
      else if (kind === FROM) moves++;
    }
    const dup2s = actions.filter(([op]) => op === DUP2).length;
    assert.equal(dup2s, kept.size + moves + cycles, `seed ${seed}: dup2 count`);
  }
  assert.ok(withCycles >= 300, `only ${withCycles} plans had cycles`);
  assert.ok(withPreserve >= 1000, `only ${withPreserve} plans preserved fds`);
});
