// How `status` and `list` show a service: aligned tables, colour only on a terminal, JSON on request.
import { LSB, type StatusReport } from '../core/service-control.js';

/** A supervisor answered: up, with or without a worker up. */
const answered = (r: StatusReport) => r.status !== null && (r.lsb === LSB.running || r.lsb === LSB.noWorkerUp);
import { formatAge, paint, stateColor, table } from './terminal.js';

export function statusJson(r: StatusReport): object {
  return {
    name: r.name,
    lsb: r.lsb,
    state: r.summary,
    running: r.lsb === 0,
    pid: r.pid,
    pidfile: r.pidfile,
    reason: r.reason,
    startedAt: r.status?.startedAt ?? null,
    workers: r.status?.workers ?? [],
    logError: r.status?.logError ?? null,
    leftovers: r.status?.leftovers ?? 0,
    command: r.status?.command ?? r.record?.options.command?.argv ?? null,
    exitCode: r.record?.exitCode ?? null,
    stateError: r.stateError,
  };
}

function headline(r: StatusReport, color: boolean): string {
  const state = paint(r.summary, stateColor(r.summary), color);
  if (answered(r)) return `${r.name}: ${state} (supervisor pid ${r.pid}, up ${formatAge(r.status!.startedAt)})`;
  if (r.lsb === 0) return `${r.name}: ${state} (pid ${r.pid}, unsupervised)`;
  if (r.lsb === 1) return `${r.name}: ${paint('not running', 'red', color)} (stale PID file${r.pid ? `, last pid ${r.pid}` : ''})`;
  if (r.lsb === 4) return `${r.name}: ${paint('unknown', 'yellow', color)} (${r.pid ? `pid ${r.pid}: ` : ''}${r.reason})`;
  return `${r.name}: ${state === r.summary ? 'not running' : paint('not running', stateColor(r.summary), color)}`;
}

export function renderStatus(r: StatusReport, color: boolean): string {
  const lines = [headline(r, color)];
  if (r.reason && r.lsb !== 4 && r.lsb !== 1) lines.push(`  ${paint('reason:', 'bold', color)} ${r.reason}`);
  if (r.status?.leftovers) lines.push(`  ${paint('leftovers:', 'yellow', color)} ${r.status.leftovers} process${r.status.leftovers === 1 ? '' : 'es'} left by exited workers`);
  if (r.status?.logError) lines.push(`  ${paint('log error:', 'red', color)} ${r.status.logError}`);
  if (r.stateError) lines.push(`  ${paint('warning:', 'yellow', color)} ${r.stateError}`);
  const workers = r.status?.workers ?? [];
  if (workers.length && answered(r)) {
    const rows = workers.map((w) => [
      String(w.task),
      w.pid ? String(w.pid) : '-',
      paint(w.state, stateColor(w.state), color),
      String(w.restarts),
      w.lastExit ?? '-',
      w.startedAt && w.pid ? formatAge(w.startedAt) : '-',
    ]);
    lines.push(
      table(rows, { header: ['TASK', 'PID', 'STATE', 'RESTARTS', 'LAST EXIT', 'UP'], align: ['right', 'right', 'left', 'right', 'left', 'right'] })
        .split('\n')
        .map((l) => `  ${l}`)
        .join('\n'),
    );
  }
  return `${lines.join('\n')}\n`;
}

export function renderList(reports: StatusReport[], color: boolean): string {
  if (reports.length === 0) return 'no services\n';
  const rows = reports.map((r) => [
    r.name,
    paint(r.lsb === 1 ? 'stale' : r.summary, stateColor(r.lsb === 1 ? 'dead' : r.summary), color),
    r.pid && answered(r) ? String(r.pid) : '-',
    answered(r) ? String(r.status!.workers.filter((w) => w.pid).length) : '-',
    answered(r) ? formatAge(r.status!.startedAt) : '-',
    r.reason && r.lsb !== 0 ? r.reason : '',
  ]);
  return `${table(rows, { header: ['NAME', 'STATE', 'PID', 'WORKERS', 'UP', 'NOTE'], align: ['left', 'left', 'right', 'right', 'right', 'left'] })}\n`;
}
