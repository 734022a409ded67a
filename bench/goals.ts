// A throughput goal: a ratio of two figures measured in the same run, beside the limit it must reach.
// `make bench` prints every module's goals together at the end of its report.

export interface Goal {
  ratio: number;
  atLeast: number;
  met: boolean;
}

export function goal(numerator: number, denominator: number, atLeast: number): Goal {
  const ratio = Math.round((numerator / denominator) * 1000) / 1000;
  return { ratio, atLeast, met: ratio >= atLeast };
}

/** The goals in a module's figures (under `goals`), by name. */
export function goalsOf(figures: object): Array<[string, Goal]> {
  const goals = (figures as { goals?: Record<string, Goal> }).goals;
  return goals === undefined ? [] : Object.entries(goals);
}
