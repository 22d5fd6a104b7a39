/**
 * What the Action needs of `@actions/core`, as a port: the real module fits it
 * as it is, and the tests pass a recording fake. Methods return `unknown` where
 * the real ones chain, so any implementation fits.
 */

/** A cell of a job-summary table: a string, or a header cell. */
export type SummaryCell = string | { data: string; header?: boolean };

export interface ActionSummary {
  addHeading(text: string, level?: number | string): unknown;
  addTable(rows: SummaryCell[][]): unknown;
  addRaw(text: string, addEOL?: boolean): unknown;
  /** Appends the buffer to the file named by GITHUB_STEP_SUMMARY. */
  write(): Promise<unknown>;
}

export interface ActionCore {
  getInput(name: string, options?: { required?: boolean; trimWhitespace?: boolean }): string;
  setOutput(name: string, value: string): void;
  setFailed(message: string | Error): void;
  setSecret(secret: string): void;
  info(message: string): void;
  notice(message: string | Error): void;
  warning(message: string | Error): void;
  summary: ActionSummary;
}
