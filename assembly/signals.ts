// Linux signal numbers (x86_64 and aarch64 agree on these) and their names, both ways.

const NAMES: string[] = [
  '',
  'HUP',
  'INT',
  'QUIT',
  'ILL',
  'TRAP',
  'ABRT',
  'BUS',
  'FPE',
  'KILL',
  'USR1',
  'SEGV',
  'USR2',
  'PIPE',
  'ALRM',
  'TERM',
  'STKFLT',
  'CHLD',
  'CONT',
  'STOP',
  'TSTP',
  'TTIN',
  'TTOU',
  'URG',
  'XCPU',
  'XFSZ',
  'VTALRM',
  'PROF',
  'WINCH',
  'IO',
  'PWR',
  'SYS',
];

export const SIGRTMIN: i32 = 34;
export const SIGRTMAX: i32 = 64;

/** "SIGTERM" for 15, "SIGRTMIN+2" for 36, "" for a number that is no signal. */
export function signalName(signal: i32): string {
  if (signal >= 1 && signal < NAMES.length) return 'SIG' + NAMES[signal];
  if (signal == SIGRTMIN) return 'SIGRTMIN';
  if (signal > SIGRTMIN && signal <= SIGRTMAX) return 'SIGRTMIN+' + (signal - SIGRTMIN).toString();
  return '';
}

/** Accepts "TERM", "SIGTERM", "sigterm", "15", "RTMIN+2"; returns -1 for anything else. */
export function signalNumber(text: string): i32 {
  if (text.length == 0 || text.length > 12) return -1;
  let allDigits = true;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) allDigits = false;
  }
  if (allDigits) {
    const n = I32.parseInt(text, 10);
    return n >= 1 && n <= SIGRTMAX ? n : -1;
  }
  let name = text.toUpperCase();
  if (name.startsWith('SIG')) name = name.substring(3);
  if (name == 'IOT') return 6;
  if (name == 'POLL') return 29;
  for (let i = 1; i < NAMES.length; i++) if (NAMES[i] == name) return i;
  if (name == 'RTMIN') return SIGRTMIN;
  if (name == 'RTMAX') return SIGRTMAX;
  if (name.startsWith('RTMIN+')) {
    const off = name.substring(6);
    if (off.length == 0 || off.length > 2) return -1;
    for (let i = 0; i < off.length; i++) {
      const c = off.charCodeAt(i);
      if (c < 48 || c > 57) return -1;
    }
    const n = SIGRTMIN + I32.parseInt(off, 10);
    return n <= SIGRTMAX ? n : -1;
  }
  return -1;
}
