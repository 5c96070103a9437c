// Acting on a path as the service user: where a user other than root can change a directory, root's own lookups there
// could be steered (a symlink swapped in); done with the user's filesystem ids, they can reach only what the user may.
import { setfsgid, setfsuid } from '../sys/fsuid.js';

/** Whose filesystem ids a path operation runs with. */
export interface FsIdentity {
  uid: number;
  gid: number;
  /** The user's name, for messages. */
  name?: string;
}

/** Runs work with this thread's filesystem ids set to the user's (Node's sync fs calls run on this thread); null: ours. */
export function asUser<T>(user: FsIdentity | null, work: () => T): T {
  if (!user) return work();
  const gid = setfsgid(user.gid);
  try {
    const uid = setfsuid(user.uid);
    try {
      return work();
    } finally {
      setfsuid(uid);
    }
  } finally {
    setfsgid(gid);
  }
}
