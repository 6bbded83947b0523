/**
 * Notices that the process that started this one went away, so that nothing is left serving on its own after a
 * process manager killed its direct child (npm exits on SIGTERM without waiting for its script, and SIGKILL
 * cannot be forwarded at all).
 *
 * With an IPC channel (a child of the supervisor) that is the channel's 'disconnect'. Under an npm script
 * (`npm start`, `npm run start:api`, ...) it is a change of the parent pid, checked every second. Otherwise the
 * parent is nobody's business: a process started from a shell that exits (`nohup ... &`) keeps running.
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
  // npm sets npm_lifecycle_event for the script it runs; a parent of pid 1 (or 0 in a container) cannot go away.
  if (process.env.npm_lifecycle_event === undefined || parent <= 1) return () => undefined;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    onGone();
  }, PARENT_POLL_MS);
  timer.unref();
  return () => clearInterval(timer);
}
