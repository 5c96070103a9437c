// `start` spawns its new session before the rest of the CLI loads (dist/cli.js runs this bundle before the CLI's body):
// the session's Node starts up while the CLI parses, normalizes and plans. Which entry is a guess from argv that the
// plan then checks (claimEarlySession): a wrong guess costs one dismissed process, never a wrong start.
import { spawnEarlySession } from '../core/session-spawn.js';

const [command, ...rest] = process.argv.slice(2);
const own = rest.includes('--') ? rest.slice(0, rest.indexOf('--')) : rest;
if (command === 'start' && !own.includes('--help') && !own.includes('-h'))
  spawnEarlySession(own.includes('--no-supervise') ? 'intermediate' : 'supervisor');
