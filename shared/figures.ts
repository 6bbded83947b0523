/** Figures as the service reports them (metrics, timing headers, log lines): milliseconds and MB to one decimal. */
export const round1 = (value: number): number => Math.round(value * 10) / 10;
