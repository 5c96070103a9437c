// How `status` and `list` show a service (the library's status() report): aligned tables, colour only on a terminal.
import type { ServiceReport } from '../core/service-report.js';
import { LSB, STALE_REASON } from '../core/service-control.js';
import { formatAge, paint, printable, stateColor, table } from './terminal.js';

/** A supervisor answered: up, with or without a worker up. */
const answered = (r: ServiceReport) => r.supervised;

function headline(r: ServiceReport, color: boolean): string {
  // A name comes from a file name in the state directory, which others may have made: shown, never obeyed.
  const name = printable(r.name, true);
  const state = paint(r.state, stateColor(r.state), color);
  if (answered(r)) return `${name}: ${state} (supervisor pid ${r.pid}, up ${formatAge(r.startedAt!)})`;
  if (r.lsb === LSB.running) return `${name}: ${state} (pid ${r.pid}, unsupervised)`;
  if (r.lsb === LSB.deadWithPidfile)
    return `${name}: ${paint('not running', 'red', color)} (stale PID file${r.pid ? `, last pid ${r.pid}` : ''})`;
  if (r.lsb === LSB.unknown)
    return `${name}: ${paint('unknown', 'yellow', color)} (${r.pid ? `pid ${r.pid}: ` : ''}${printable(r.reason ?? '', true)})`;
  return `${name}: ${state === r.state ? 'not running' : paint('not running', stateColor(r.state), color)}`;
}

export function renderStatus(r: ServiceReport, color: boolean): string {
  const lines = [headline(r, color)];
  // A stale PID file's headline says it all, unless the reason adds who holds it or what of its session lives.
  const plainStale = r.lsb === LSB.deadWithPidfile && r.reason === STALE_REASON;
  if (r.reason && r.lsb !== LSB.unknown && !plainStale) lines.push(`  ${paint('reason:', 'bold', color)} ${printable(r.reason, true)}`);
  if (r.leftovers)
    lines.push(`  ${paint('leftovers:', 'yellow', color)} ${r.leftovers} process${r.leftovers === 1 ? '' : 'es'} left by exited workers`);
  if (r.logError) lines.push(`  ${paint('log error:', 'red', color)} ${r.logError}`);
  if (r.stateError) lines.push(`  ${paint('warning:', 'yellow', color)} ${r.stateError}`);
  const workers = r.workers;
  if (workers.length && answered(r)) {
    // Readiness and the last probe (readiness, health, READY=1) only for a service that has probes: for the others
    // (ready once alive) READY would only repeat STATE, where 'starting' is not ready yet.
    const probes = workers.some((w) => w.probe);
    const rows = workers.map((w) => [
      String(w.task),
      w.pid ? String(w.pid) : '-',
      paint(w.state, stateColor(w.state), color),
      ...(probes ? [w.ready ? 'yes' : paint('no', 'yellow', color)] : []),
      String(w.restarts),
      printable(w.lastExit ?? '-', true),
      w.startedAt && w.pid ? formatAge(w.startedAt) : '-',
      ...(probes
        ? [
            w.probe
              ? `${paint(w.probe.ok ? 'ok' : 'failed', w.probe.ok ? 'green' : 'red', color)} ${printable(w.probe.text, true)} (${formatAge(w.probe.at)} ago)`
              : '-',
          ]
        : []),
    ]);
    const header = ['TASK', 'PID', 'STATE', ...(probes ? ['READY'] : []), 'RESTARTS', 'LAST EXIT', 'UP', ...(probes ? ['LAST PROBE'] : [])];
    const align: ('left' | 'right')[] = [
      'right',
      'right',
      'left',
      ...(probes ? (['left'] as const) : []),
      'right',
      'left',
      'right',
      ...(probes ? (['left'] as const) : []),
    ];
    lines.push(
      table(rows, { header, align })
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function renderList(reports: ServiceReport[], color: boolean): string {
  if (reports.length === 0) return 'no services\n';
  const rows = reports.map((r) => [
    printable(r.name, true),
    paint(r.lsb === LSB.deadWithPidfile ? 'stale' : r.state, stateColor(r.lsb === LSB.deadWithPidfile ? 'dead' : r.state), color),
    r.pid && answered(r) ? String(r.pid) : '-',
    answered(r) ? String(r.workers.filter((w) => w.pid).length) : '-',
    answered(r) ? formatAge(r.startedAt!) : '-',
    r.reason && r.lsb !== LSB.running ? printable(r.reason, true) : '',
  ]);
  return `${table(rows, { header: ['NAME', 'STATE', 'PID', 'WORKERS', 'UP', 'NOTE'], align: ['left', 'left', 'right', 'right', 'right', 'left'] })}\n`;
}
