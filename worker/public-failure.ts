/**
 * What a failed job shows to people. BullMQ stores the thrown error's message as `failedReason` and its stack in
 * `job.stacktrace`, and Bull Board displays both, so an error leaves the processor as `CODE: message` (a catalogue
 * code, see shared/queue.ts formatFailure), without server file paths and without a stack. This holds for every
 * job whatever options its producer set (the producers also set stackTraceLimit 0).
 */
import { UnrecoverableError } from 'bullmq';
import { formatFailure, parseFailure } from '../shared/queue.ts';

/** BullMQ's control-flow errors (a job moved to delayed / waiting-children, rate limiting) must pass unchanged. */
const CONTROL_ERRORS = new Set(['DelayedError', 'WaitingError', 'WaitingChildrenError', 'RateLimitError']);
const MAX_REASON_CHARS = 1_000;
/** Absolute POSIX paths (two segments or more, at a word start), file: URLs and Windows drive paths. */
const PATHS = /file:\/\/\S+|(?<![\w./:-])\/(?:[\w.@+-]+\/)+[\w.@+-]*|\b[A-Za-z]:\\\S+/g;
const STACK_FRAME = /^\s*at\s.*$/gm;

/** A reason fit for the dashboard: stack frames dropped, paths replaced by `<path>`, bounded in length. */
export function publicReason(reason: string): string {
  const text = reason.replace(STACK_FRAME, '').replace(PATHS, '<path>').replace(/\n{2,}/g, '\n').trim();
  return text.length > MAX_REASON_CHARS ? `${text.slice(0, MAX_REASON_CHARS)}…` : text;
}

/** The error BullMQ should record: same kind (unrecoverable or not), a public `CODE: message`, no stack. */
export function publicFailure(error: unknown): unknown {
  if (error instanceof Error && CONTROL_ERRORS.has(error.name)) return error;
  const reason = error instanceof Error ? error.message : String(error);
  const parsed = parseFailure(reason);
  // Without a catalogue code it is a bug of ours: say so, keeping the (cleaned) text for whoever investigates.
  const coded = reason.startsWith(`${parsed.code}: `) ? reason : formatFailure('INTERNAL_ERROR', reason);
  const unrecoverable = error instanceof Error && error.name === 'UnrecoverableError';
  const failure = unrecoverable ? new UnrecoverableError(publicReason(coded)) : new Error(publicReason(coded));
  failure.stack = '';
  failure.cause = error;
  return failure;
}

/** Wraps a BullMQ processor so that whatever it throws is recorded as a public failure. */
export function withPublicFailures<A extends unknown[], R>(
  processor: (...args: A) => Promise<R>,
): (...args: A) => Promise<R> {
  return async (...args) => {
    try {
      return await processor(...args);
    } catch (error) {
      throw publicFailure(error);
    }
  };
}
