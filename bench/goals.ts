// A goal: a figure of this run beside the limit it must keep, e.g. a ratio of two figures measured in
// the same run. `make bench` prints every module's goals (its figures' `goals`) together at the end.

export interface Goal {
  value: number;
  /** The limit as read, e.g. "≥ 3". */
  limit: string;
  met: boolean;
  /** Why the figure could not be measured in this run (value is then NaN, and the goal not met). */
  notMeasured?: string;
}

/** numerator / denominator, which must be at least `atLeast`. */
export function ratioGoal(numerator: number, denominator: number, atLeast: number): Goal {
  const value = Math.round((numerator / denominator) * 1000) / 1000;
  return { value, limit: `≥ ${atLeast}`, met: value >= atLeast };
}

/** A goal whose figure this run could not measure (e.g. its baseline failed), saying why. */
export function notMeasuredGoal(atLeast: number, reason: string): Goal {
  return { value: Number.NaN, limit: `≥ ${atLeast}`, met: false, notMeasured: reason };
}

/** The goals in a module's figures (under `goals`), by name. */
export function goalsOf(figures: object): Array<[string, Goal]> {
  const goals = (figures as { goals?: Record<string, Goal> }).goals;
  return goals === undefined ? [] : Object.entries(goals);
}
