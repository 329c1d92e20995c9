/**
 * Named counters for rejected input and other events worth observing (exported later as
 * Prometheus metrics). Every drop of bad input increments one, labelled by error code.
 */
export class Counters {
  private readonly values = new Map<string, number>();

  inc(name: string, by = 1): void {
    this.values.set(name, (this.values.get(name) ?? 0) + by);
  }

  get(name: string): number {
    return this.values.get(name) ?? 0;
  }

  /** Every counter back to 0 (keepalived's STATS_CLEAR); the names stay, at 0. */
  clear(): void {
    for (const name of this.values.keys()) this.values.set(name, 0);
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.values.entries()].sort(([a], [b]) => a.localeCompare(b)));
  }
}
