/**
 * How many request-body bytes the API holds at once. A request reserves its Content-Length when it arrives (or,
 * chunked, each chunk as it streams in) and gives it back when its response is over; what does not fit is refused
 * before it is read. Bodies are held until the answer because the parsed request lives that long.
 */
export class BodyBudget {
  private held = 0;

  constructor(readonly limit: number) {}

  get heldBytes(): number {
    return this.held;
  }

  /**
   * Takes `bytes` from the budget; false (and nothing taken) when they do not fit. A body larger than the whole
   * budget (a route with a larger body limit) is admitted only while nothing else is held.
   */
  tryReserve(bytes: number): boolean {
    if (this.held > 0 && this.held + bytes > this.limit) return false;
    this.held += bytes;
    return true;
  }

  release(bytes: number): void {
    this.held = Math.max(0, this.held - bytes);
  }
}
