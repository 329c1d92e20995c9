/** Runs plans against an IpvsOps (the kernel or the fake). */
import { planIpvs } from './reconcile.js';
import type { IpvsOp, IpvsOps, IpvsTable } from './types.js';

export interface ApplyOptions {
  /**
   * Operations in flight at once (default 32). Operations are issued in plan order and the kernel
   * handles a generic netlink request inside sendmsg, so order is kept; the window only saves one
   * event-loop round trip per operation. 1 = strictly one at a time.
   */
  window?: number;
}

/**
 * Applies a plan in order. On the first refusal no further operation is issued; the error thrown is
 * the earliest failing operation's (it names op, service and errno); operations already in flight
 * when it failed are awaited first.
 */
export async function applyPlan(ops: IpvsOps, plan: readonly IpvsOp[], o: ApplyOptions = {}): Promise<void> {
  const window = Math.max(1, o.window ?? 32);
  const inFlight = new Set<Promise<void>>();
  let firstError: { index: number; error: unknown } | undefined;
  for (let i = 0; i < plan.length && !firstError; i++) {
    const index = i;
    const p: Promise<void> = ops.apply(plan[i] as IpvsOp).then(
      () => {
        inFlight.delete(p);
      },
      (error: unknown) => {
        inFlight.delete(p);
        if (!firstError || index < firstError.index) firstError = { index, error };
      },
    );
    inFlight.add(p);
    if (inFlight.size >= window) await Promise.race(inFlight);
  }
  await Promise.all(inFlight);
  if (firstError) throw firstError.error;
}

/** Reads the table, plans against `desired`, applies; returns the plan it ran. */
export async function reconcile(
  ops: IpvsOps,
  desired: IpvsTable,
  owned: ReadonlySet<string>,
  o: ApplyOptions = {},
): Promise<IpvsOp[]> {
  const plan = planIpvs(desired, await ops.readTable(), owned);
  await applyPlan(ops, plan, o);
  return plan;
}
