/**
 * Polls until `check` returns a value, with a deadline; the interval only spaces the polls. The error names
 * `what` and the timeout.
 */
export async function pollUntil<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50)); // poll interval, bounded by the deadline
  }
}
