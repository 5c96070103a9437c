// The fd plan for a posix_spawn child: stdio targets and preserved fds in, open/dup2/close/closefrom actions out.

/** Child fd N is the parent's fd N (arg ignored). */
export const FD_INHERIT: i32 = 0;
/** Child fd N is /dev/null, opened O_RDWR (arg ignored). */
export const FD_NULL: i32 = 1;
/** Child fd N is a path the host keeps at index arg, opened for appending. */
export const FD_APPEND: i32 = 2;
/** Child fd N is a path the host keeps at index arg, opened and truncated. */
export const FD_TRUNCATE: i32 = 3;
/** Child fd N is the parent's fd arg. */
export const FD_FROM: i32 = 4;

/** [ACT_OPEN, fd, kind, path index or -1 for /dev/null] */
export const ACT_OPEN: i32 = 1;
/** [ACT_DUP2, src, dst, 0]; dup2(fd, fd) clears close-on-exec. */
export const ACT_DUP2: i32 = 2;
/** [ACT_CLOSE, fd, 0, 0] */
export const ACT_CLOSE: i32 = 3;
/** [ACT_CLOSEFROM, lowfd, 0, 0] */
export const ACT_CLOSEFROM: i32 = 4;

// fs.nr_open's default (1 << 20) caps every RLIMIT_NOFILE unless an administrator raised it: the caller's own limit
// is the kernel's to enforce (EBADF), this only refuses nonsense. Also bounds the plan: a close per gap below a target.
const MAX_FD: i32 = (1 << 20) - 1;

function fdRangeError(what: string, fd: i32): string {
  if (fd < 0) return what + ' ' + fd.toString() + ' is negative';
  if (fd > MAX_FD) return what + ' ' + fd.toString() + ' is above ' + MAX_FD.toString();
  return '';
}

// Whether a target asks for the parent's own fd at the same number, which is what preserving it means.
function keepsParentFd(fd: i32, kind: i32, arg: i32): bool {
  return kind == FD_INHERIT || (kind == FD_FROM && arg == fd);
}

/** "" if the plan is valid, else the first reason it is not. */
export function fdPlanError(targets: Int32Array, preserve: Int32Array): string {
  const n = targets.length;
  if (n % 3 != 0) return 'targets length ' + n.toString() + ' is not a multiple of 3 (fd, kind, arg)';
  for (let i = 0; i < n; i += 3) {
    const fd = targets[i];
    const kind = targets[i + 1];
    const arg = targets[i + 2];
    const bad = fdRangeError('target fd', fd);
    if (bad.length) return bad;
    for (let j = 0; j < i; j += 3) if (targets[j] == fd) return 'fd ' + fd.toString() + ' is a target twice';
    const at = 'fd ' + fd.toString() + ': ';
    if (kind == FD_FROM) {
      const badSource = fdRangeError('source fd', arg);
      if (badSource.length) return at + badSource;
    } else if (kind == FD_APPEND || kind == FD_TRUNCATE) {
      if (arg < 0) return at + 'path index ' + arg.toString() + ' is negative';
    } else if (kind != FD_INHERIT && kind != FD_NULL) {
      return at + 'unknown kind ' + kind.toString();
    }
  }
  for (let i = 0; i < preserve.length; i++) {
    const fd = preserve[i];
    const bad = fdRangeError('preserved fd', fd);
    if (bad.length) return bad;
    for (let j = 0; j < n; j += 3) {
      if (targets[j] == fd && !keepsParentFd(fd, targets[j + 1], targets[j + 2]))
        return 'fd ' + fd.toString() + ' is preserved but also a target that replaces it';
    }
  }
  return '';
}

// The plan being built: actions are appended at planLength.
let plan = new Int32Array(0);
let planLength = 0;

function emit(op: i32, a: i32, b: i32, c: i32): void {
  plan[planLength] = op;
  plan[planLength + 1] = a;
  plan[planLength + 2] = b;
  plan[planLength + 3] = c;
  planLength += 4;
}

/** Actions, 4 ints each, leaving the child exactly the target and preserved fds; empty if fdPlanError is not "". */
export function planFds(targets: Int32Array, preserve: Int32Array): Int32Array {
  if (fdPlanError(targets, preserve).length) return new Int32Array(0);

  // The child's fds, sorted by number (insertion sort: there are a handful), so input order does not matter.
  const room = targets.length / 3 + preserve.length;
  const fds = new Int32Array(room);
  const kinds = new Int32Array(room);
  const args = new Int32Array(room);
  let count = 0;
  for (let i = 0; i < room; i++) {
    let fd: i32, kind: i32, arg: i32;
    if (i * 3 < targets.length) {
      fd = targets[i * 3];
      kind = targets[i * 3 + 1];
      arg = targets[i * 3 + 2];
    } else {
      fd = preserve[i - targets.length / 3];
      kind = FD_INHERIT;
      arg = 0;
      // A preserved fd that is also a target (or preserved twice) asks for the same thing once.
      let seen = false;
      for (let j = 0; j < count; j++) if (fds[j] == fd) seen = true;
      if (seen) continue;
    }
    let j = count - 1;
    while (j >= 0 && fds[j] > fd) {
      fds[j + 1] = fds[j];
      kinds[j + 1] = kinds[j];
      args[j + 1] = args[j];
      j--;
    }
    fds[j + 1] = fd;
    kinds[j + 1] = kind;
    args[j + 1] = arg;
    count++;
  }
  const highest = count ? fds[count - 1] : -1;

  // At most: a dup2 per fd, one per cycle (half the moves), an open per fd, a close per gap, and closefrom.
  plan = new Int32Array(4 * (2 * count + highest + 2));
  planLength = 0;
  const moveSrc = new Int32Array(count);
  const moveDst = new Int32Array(count);
  let moves = 0;
  for (let i = 0; i < count; i++) {
    const fd = fds[i];
    const kind = kinds[i];
    // Node opens everything close-on-exec; dup2(fd, fd) is the one file action that clears the flag.
    if (keepsParentFd(fd, kind, args[i])) emit(ACT_DUP2, fd, fd, 0);
    else if (kind == FD_FROM) {
      moveSrc[moves] = args[i];
      moveDst[moves] = fd;
      moves++;
    }
  }

  // A parallel move: write a destination only once no pending move still reads it; break cycles through scratch.
  // Moves left when none is free form pure cycles of target fds, so the first fd above every target is a safe
  // scratch: no pending move reads it, closefrom takes it, and it stays under RLIMIT_NOFILE whenever the targets do.
  // A done move's source becomes -1, so it no longer reads anything.
  const scratch = highest + 1;
  let left = moves;
  while (left > 0) {
    let progressed = false;
    for (let i = 0; i < moves; i++) {
      const src = moveSrc[i];
      if (src < 0) continue;
      const dst = moveDst[i];
      let read = false;
      for (let j = 0; j < moves; j++) if (moveSrc[j] == dst) read = true;
      if (read) continue;
      emit(ACT_DUP2, src, dst, 0);
      moveSrc[i] = -1;
      left--;
      progressed = true;
    }
    if (progressed) continue;
    // Only whole cycles are left, each fd read once: park the first destination and read it from scratch.
    let parked = -1;
    for (let i = 0; i < moves; i++) {
      if (moveSrc[i] < 0) continue;
      if (parked < 0) {
        parked = moveDst[i];
        emit(ACT_DUP2, parked, scratch, 0);
      }
      if (moveSrc[i] == parked) moveSrc[i] = scratch;
    }
  }

  // Opens come after every move: opening onto an fd first closes it, and it may still have been a source.
  for (let i = 0; i < count; i++) {
    const kind = kinds[i];
    if (kind == FD_NULL) emit(ACT_OPEN, fds[i], kind, -1);
    else if (kind == FD_APPEND || kind == FD_TRUNCATE) emit(ACT_OPEN, fds[i], kind, args[i]);
  }

  // Every gap below the highest fd is closed, 0-2 included: a parent fd there need not be close-on-exec.
  let next = 0;
  for (let i = 0; i < count; i++) {
    for (let gap = next; gap < fds[i]; gap++) emit(ACT_CLOSE, gap, 0, 0);
    next = fds[i] + 1;
  }
  // The scratch fd is this bound, so closefrom takes it too.
  emit(ACT_CLOSEFROM, highest + 1, 0, 0);

  const result = new Int32Array(planLength);
  for (let i = 0; i < planLength; i++) result[i] = plan[i];
  plan = new Int32Array(0);
  return result;
}
