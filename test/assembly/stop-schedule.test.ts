// start-stop-daemon `--retry` schedules in the compiled planner: parsing, errors, canonical text and round trips.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planner } from '../../src/core/wasm.js';
import { runStopSchedule, stopScheduleBudgetMs } from '../../src/core/supervisor-machine.js';

const parse = (text: string): number[] => Array.from(planner.parseStopSchedule(text));

test('valid schedules parse to [signal, timeoutMs] pairs and format canonically', () => {
  const cases: [string, number[], string][] = [
    ['TERM/10/KILL/5', [15, 10000, 9, 5000], 'TERM/10/KILL/5'],
    ['SIGTERM/10', [15, 10000], 'TERM/10'],
    ['15/10', [15, 10000], 'TERM/10'],
    ['sigterm/10/sigkill/5', [15, 10000, 9, 5000], 'TERM/10/KILL/5'],
    ['-TERM/1/-9/1', [15, 1000, 9, 1000], 'TERM/1/KILL/1'],
    ['5', [15, 5000, 9, 5000], 'TERM/5/KILL/5'],
    ['0.5', [15, 500, 9, 500], 'TERM/0.5/KILL/0.5'],
    ['0', [15, 0, 9, 0], 'TERM/0/KILL/0'],
    ['TERM/0.5', [15, 500], 'TERM/0.5'],
    ['TERM/1.250', [15, 1250], 'TERM/1.25'],
    ['TERM/0.001', [15, 1], 'TERM/0.001'],
    ['TERM/2.5000', [15, 2500], 'TERM/2.5'],
    ['TERM/010', [15, 10000], 'TERM/10'],
    ['TERM/86400', [15, 86400000], 'TERM/86400'],
    ['TERM/30/forever', [15, 30000, 0, -1], 'TERM/30/forever'],
    ['INT/5/KILL/1/FOREVER', [2, 5000, 9, 1000, 0, -1], 'INT/5/KILL/1/forever'],
    ['HUP/1/USR1/2/RTMIN+2/3', [1, 1000, 10, 2000, 36, 3000], 'HUP/1/USR1/2/RTMIN+2/3'],
    [
      'TERM/1/TERM/1/TERM/1/TERM/1/TERM/1/TERM/1/TERM/1/KILL/1',
      [15, 1000, 15, 1000, 15, 1000, 15, 1000, 15, 1000, 15, 1000, 15, 1000, 9, 1000],
      'TERM/1/TERM/1/TERM/1/TERM/1/TERM/1/TERM/1/TERM/1/KILL/1',
    ],
  ];
  for (const [text, pairs, canonical] of cases) {
    assert.deepEqual(parse(text), pairs, text);
    assert.equal(planner.stopScheduleError(text), '', text);
    assert.equal(planner.formatStopSchedule(Int32Array.from(pairs)), canonical, text);
    assert.deepEqual(parse(canonical), pairs, canonical);
  }
});

test('invalid schedules: empty result and a reason naming the bad item', () => {
  const cases: [string, string][] = [
    ['', 'empty stop schedule'],
    ['TERM/x', "'x' is not a signal or a number of seconds in 'TERM/x'"],
    ['x/10', "'x' is not a signal or a number of seconds in 'x/10'"],
    ['TERM//5', "empty item in 'TERM//5'"],
    ['TERM/10/', "empty item in 'TERM/10/'"],
    ['/TERM/10', "empty item in '/TERM/10'"],
    ['TERM', "missing a number of seconds after 'TERM' in 'TERM'"],
    ['TERM/10/KILL', "missing a number of seconds after 'KILL' in 'TERM/10/KILL'"],
    ['TERM/KILL/5', "expected a number of seconds after 'TERM', got 'KILL' in 'TERM/KILL/5'"],
    ['TERM/10/0.5/1', "'0.5' is not a signal (expected a signal after '10') in 'TERM/10/0.5/1'"],
    ['100/10', "'100' is not a signal (expected a signal) in '100/10'"],
    ['0/10', "'0' is not a signal (expected a signal) in '0/10'"],
    ['TERM/-5', "expected a number of seconds after 'TERM', got '-5' in 'TERM/-5'"],
    ['TERM/.5', "'.5' is not a signal or a number of seconds in 'TERM/.5'"],
    ['TERM/5.', "'5.' is not a signal or a number of seconds in 'TERM/5.'"],
    ['TERM/1e3', "'1e3' is not a signal or a number of seconds in 'TERM/1e3'"],
    ['TERM/ 5', "' 5' is not a signal or a number of seconds in 'TERM/ 5'"],
    ['TERM/0.0005', "'0.0005' has more than 3 decimals in 'TERM/0.0005'"],
    ['TERM/86400.001', "'86400.001' is more than a day (86400 seconds) in 'TERM/86400.001'"],
    ['TERM/99999999999999999999', "'99999999999999999999' is more than a day (86400 seconds) in 'TERM/99999999999999999999'"],
    ['forever', "'forever' has nothing to repeat in 'forever'"],
    ['TERM/forever', "expected a number of seconds after 'TERM', got 'forever' in 'TERM/forever'"],
    ['TERM/10/forever/KILL/5', "'forever' must be the last item in 'TERM/10/forever/KILL/5'"],
    ['TERM/10/forever/forever', "'forever' must be the last item in 'TERM/10/forever/forever'"],
    ['1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1', "too many items (17, at most 16) in '1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1/1'"],
    ['100000', "'100000' is not a signal (expected a signal) in '100000'"],
  ];
  for (const [text, reason] of cases) {
    assert.equal(planner.stopScheduleError(text), reason, text);
    assert.deepEqual(parse(text), [], text);
  }
});

test('the default schedule is TERM/10/KILL/5', () => {
  assert.deepEqual(Array.from(planner.defaultStopSchedule()), [15, 10000, 9, 5000]);
  assert.equal(planner.formatStopSchedule(planner.defaultStopSchedule()), 'TERM/10/KILL/5');
});

test('formatStopSchedule rejects odd or empty arrays', () => {
  assert.equal(planner.formatStopSchedule(new Int32Array(0)), '');
  assert.equal(planner.formatStopSchedule(Int32Array.from([15])), '');
});

test('random valid schedules round-trip through text', () => {
  let seed = 12345;
  const rand = (n: number) => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return (seed >>> 8) % n;
  };
  for (let i = 0; i < 2000; i++) {
    const pairs: number[] = [];
    const n = 1 + rand(7);
    for (let k = 0; k < n; k++) {
      pairs.push(1 + rand(64));
      pairs.push(rand(3) === 0 ? rand(1000) : rand(3) === 0 ? rand(86400) * 1000 : rand(86400001));
    }
    if (rand(3) === 0) pairs.push(0, -1);
    const text = planner.formatStopSchedule(Int32Array.from(pairs));
    assert.equal(planner.stopScheduleError(text), '', text);
    assert.deepEqual(parse(text), pairs, text);
  }
});

test('stepping: each step sends its pair, forever repeats the pair before it, and the end is the end', async () => {
  const walk = async (text: string, outlives: number) => {
    const sent: string[] = [];
    const run = await runStopSchedule(parse(text), {
      send: (signal, step) => (sent.push(`${step}:${planner.signalName(signal)}`), true),
      gone: async (ms) => (sent.push(`wait ${ms}`), sent.filter((s) => s.startsWith('wait')).length > outlives),
    });
    return { sent, run };
  };
  assert.deepEqual(await walk('TERM/10/KILL/5', 0), { sent: ['0:SIGTERM', 'wait 10000'], run: { stopped: true, step: 0 } });
  assert.deepEqual(await walk('TERM/10/KILL/5', 1), {
    sent: ['0:SIGTERM', 'wait 10000', '1:SIGKILL', 'wait 5000'],
    run: { stopped: true, step: 1 },
  });
  assert.deepEqual(await walk('TERM/10/KILL/5', 9), {
    sent: ['0:SIGTERM', 'wait 10000', '1:SIGKILL', 'wait 5000'],
    run: { stopped: false },
  });
  assert.deepEqual((await walk('USR2/0.2/forever', 3)).sent, [
    '0:SIGUSR2',
    'wait 200',
    '1:SIGUSR2',
    'wait 200',
    '1:SIGUSR2',
    'wait 200',
    '1:SIGUSR2',
    'wait 200',
  ]);
  // A target that cannot be signalled ends the run, not stopped.
  assert.deepEqual(await runStopSchedule(parse('TERM/1'), { send: () => false, gone: async () => true }), { stopped: false });
  await assert.rejects(runStopSchedule([15], { send: () => true, gone: async () => true }), RangeError);
});

test('the budget of a schedule: every wait, a forever step as an hour', () => {
  assert.equal(stopScheduleBudgetMs(parse('TERM/10/KILL/5')), 15000);
  assert.equal(stopScheduleBudgetMs(parse('INT/0.5/forever')), 500 + 3_600_000);
  assert.equal(planner.stopStepSignal(Int32Array.from(parse('TERM/1')), 1), 0, 'past the end');
  assert.equal(planner.stopStepRanOut(Int32Array.from(parse('TERM/1')), 1), true);
});
