/** Runs plans against an IpvsOps (the kernel or the fake). */
import { planIpvs } from './reconcile.js';
import type { IpvsOp, IpvsOps, IpvsTable } from './types.js';

/** Applies a plan in order; stops at the first refusal (the error names op, service, errno). */
export async function applyPlan(ops: IpvsOps, plan: readonly IpvsOp[]): Promise<void> {
  for (const op of plan) await ops.apply(op);
}

/** Reads the table, plans against `desired`, applies; returns the plan it ran. */
export async function reconcile(
  ops: IpvsOps,
  desired: IpvsTable,
  owned: ReadonlySet<string>,
): Promise<IpvsOp[]> {
  const plan = planIpvs(desired, await ops.readTable(), owned);
  await applyPlan(ops, plan);
  return plan;
}
