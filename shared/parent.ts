/**
 * Notices that the process that started this one went away, so that nothing is left serving on its own after a
 * process manager killed its direct child (npm exits on SIGTERM without waiting for its script, and SIGKILL
 * cannot be forwarded at all).
 *
 * With an IPC channel (a child of the supervisor) that is the channel's 'disconnect'; otherwise a change of the
 * parent pid, checked every second. A process whose parent is init (or none, as PID 1 in a container) has no
 * parent to lose.
 */
const PARENT_POLL_MS = 1_000;

/** Calls `onGone` once when the parent is gone; returns a function that stops watching. */
export function onParentGone(onGone: () => void): () => void {
  if (process.send && process.connected) {
    // The listener keeps the channel (and so the process) alive: the returned function removes it.
    const listener = () => onGone();
    process.once('disconnect', listener);
    return () => process.off('disconnect', listener);
  }
  const parent = process.ppid;
  if (parent <= 1) return () => undefined;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, PARENT_POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
