// Runs one process role's share of the plan, in the plan's order, through that role's table from step to handler
// (python-daemon's DaemonContext.open() as data): what `daemonkit plan` prints is what runs.
import type { Role } from './plan.js';

/** One entry of the plan: which process role runs which step (names from the wasm's roleName/stepName). */
export interface PlannedStep {
  role: Role;
  step: string;
}

/** A step's work, given the role's state. A promise makes the runner wait before the next step. */
export type StepHandler<C, R extends void | Promise<void> = void | Promise<void>> = (c: C) => R;

/** A role's handlers by step name: exactly one per step the planner can give that role (test/src/core/step-runner.test.ts). */
export type StepTable<C, R extends void | Promise<void> = void | Promise<void>> = Readonly<Record<string, StepHandler<C, R>>>;

/** A plan gave a role a step its table has no handler for: the plan and the code disagree, so nothing runs. */
export class UnhandledStepError extends Error {
  readonly code = 'ENOSTEPHANDLER';
  constructor(
    readonly role: Role,
    readonly step: string,
  ) {
    super(`the plan gives the ${role} a step it has no handler for: ${step}`);
    this.name = 'UnhandledStepError';
  }
}

/** The role's steps, in the plan's order. */
export function stepsFor(plan: readonly PlannedStep[], role: Role): string[] {
  return plan.filter((s) => s.role === role).map((s) => s.step);
}

/** Each of the role's steps with its handler; throws UnhandledStepError before anything runs if one is missing. */
export function handlersFor<C, R extends void | Promise<void>>(
  plan: readonly PlannedStep[],
  role: Role,
  table: StepTable<C, R>,
): Array<StepHandler<C, R>> {
  return stepsFor(plan, role).map((step) => {
    if (!Object.hasOwn(table, step)) throw new UnhandledStepError(role, step);
    return table[step]!;
  });
}

/**
 * Runs the role's steps in order. Synchronous while the handlers are (a start's critical path stays one turn of the
 * loop); a handler's promise is awaited before the next step. A handler's error ends the run and is the caller's.
 */
export function runSteps<C>(plan: readonly PlannedStep[], role: Role, table: StepTable<C, void>, c: C): void;
export function runSteps<C>(plan: readonly PlannedStep[], role: Role, table: StepTable<C>, c: C): void | Promise<void>;
export function runSteps<C>(plan: readonly PlannedStep[], role: Role, table: StepTable<C>, c: C): void | Promise<void> {
  const handlers = handlersFor(plan, role, table);
  let i = 0;
  const next = (): void | Promise<void> => {
    while (i < handlers.length) {
      const pending = handlers[i++]!(c);
      if (pending) return pending.then(next);
    }
  };
  return next();
}
