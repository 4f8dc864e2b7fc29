/** The CLI's exit codes and its one error class: every failure ends as a message and a code. */
import { BatonError, ErrorNames } from '../../lambdas/core/errors.js';

/** What `baton` exits with (also in `baton --help` and the README). */
export const EXIT = {
  /** Done; with --follow: the task SUCCEEDED. */
  ok: 0,
  /** --follow: the task ended DEGRADED, FAILED or CANCELLED. */
  taskNotSucceeded: 1,
  /** Usage: unknown command or option, missing argument, unreadable or invalid --file, no AWS credentials. */
  usage: 2,
  /** The API refused the request (4xx): the problem's title, detail and issues are printed. */
  apiRefused: 3,
  /** Baton is unreachable, or failed on its side (5xx). */
  unavailable: 4,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

export class CliError extends BatonError {
  readonly exitCode: ExitCode;
  constructor(message: string, exitCode: ExitCode, options?: { cause?: unknown }) {
    super(message, options);
    this.name = ErrorNames.CliError;
    this.exitCode = exitCode;
  }
}

export const usageError = (message: string) => new CliError(message, EXIT.usage);
