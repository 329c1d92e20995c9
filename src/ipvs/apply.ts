/** Runs plans against an IpvsOps (the kernel or the fake). */
import { KaError } from '../core/errors.js';
import { serviceKeyString } from '../wire/ipvs.js';
import { planIpvs } from './reconcile.js';
import type { IpvsOp, IpvsOps, IpvsTable } from './types.js';

export interface ApplyOptions {
  /**
   * Operations in flight at once (default 32). Operations are issued in plan order and the kernel
   * handles a generic netlink request inside sendmsg, so order is kept; the window only saves one
   * event-loop round trip per operation. 1 = strictly one at a time.
   */
  window?: number;
  /** Called for each operation the kernel accepted (in completion order). */
  onApplied?: ((op: IpvsOp) => void) | undefined;
}

/**
 * Applies a plan in order. A refused operation does not stop the others (keepalived logs a failed
 * IPVS command and carries on): only the destination operations of a service whose creation was
 * refused are skipped, since they cannot succeed. After the whole plan ran, the earliest failure is
 * thrown (it names op, service and errno), with `details.failures` = how many operations failed and
 * `details.skipped` = how many were skipped.
 */
export async function applyPlan(ops: IpvsOps, plan: readonly IpvsOp[], o: ApplyOptions = {}): Promise<void> {
  const window = Math.max(1, o.window ?? 32);
  const inFlight = new Set<Promise<void>>();
  const failedServices = new Set<string>();
  let firstError: { index: number; error: unknown } | undefined;
  let failures = 0;
  let skipped = 0;
  for (let i = 0; i < plan.length; i++) {
    const op = plan[i] as IpvsOp;
    if (op.kind !== 'add-service' && failedServices.has(serviceKeyString(op.svc))) {
      skipped++;
      continue;
    }
    const index = i;
    const p: Promise<void> = ops.apply(op).then(
      () => {
        inFlight.delete(p);
        o.onApplied?.(op);
      },
      (error: unknown) => {
        inFlight.delete(p);
        failures++;
        if (op.kind === 'add-service') failedServices.add(serviceKeyString(op.svc));
        if (!firstError || index < firstError.index) firstError = { index, error };
      },
    );
    inFlight.add(p);
    // A service creation is awaited before its destinations are issued, so a refusal skips them.
    if (op.kind === 'add-service' || inFlight.size >= window)
      await (op.kind === 'add-service' ? p : Promise.race(inFlight));
  }
  await Promise.all(inFlight);
  if (firstError) {
    const e = firstError.error;
    if (e instanceof KaError) {
      throw new KaError(e.code, failures > 1 ? `${e.message} (and ${failures - 1} more)` : e.message, {
        ...e.details,
        failures,
        skipped,
      });
    }
    throw e;
  }
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
