/**
 * An instance's binding to its interface as links come and go (keepalived `dynamic_interfaces`, and
 * its handling of an interface deleted and re-created at run time, which 2.2.7 does with or without
 * that keyword). Pure: the daemon (src/daemon/vrrp-host.ts) feeds it the kernel's view after each
 * link or address event and carries out the plan (sockets, VMAC, FAULT).
 *
 * An instance is bound when its interface exists and it has a source address (mcast_src_ip /
 * unicast_src_ip, else the interface's primary IPv4 or IPv6 link-local address); otherwise it waits
 * in FAULT, as keepalived does ("(VI_1) entering FAULT state (no IPv4 address for interface)").
 */

/** Why an instance waits unbound (in FAULT). */
export type IfFault = 'missing' | 'no-address';

/** What the instance is bound to now. */
export interface IfBound {
  /** The configured interface's ifindex when it was bound. */
  readonly ifindex: number;
  /** The source address its adverts carry. */
  readonly src: string;
  /** use_vmac: the VMAC made on that interface. */
  readonly vmac: boolean;
}

/** The kernel's view now. */
export interface IfView {
  /** The link carrying the configured interface name, undefined while there is none. */
  readonly link: { readonly ifindex: number } | undefined;
  /** The source address the instance would use on it now; undefined when it has none. */
  readonly src: string | undefined;
  /** use_vmac and bound: the VMAC made at binding is still a live link. */
  readonly vmacAlive?: boolean;
}

/**
 * - `keep`: nothing to do (bound and still valid, or unbound and still waiting for the same reason).
 * - `attach`: unbound, now bindable.
 * - `detach`: bound, no longer bindable: release and wait in FAULT (`fault`).
 * - `rebind`: bound to a link that is gone (a new ifindex under the name, or the VMAC lost): release,
 *   then bind again at once.
 * - `source`: same link, another source address (the old one was removed).
 * - `wait`: unbound, still not bindable, but for another reason than before (`fault`).
 */
export type RelinkAction = 'keep' | 'attach' | 'detach' | 'rebind' | 'source' | 'wait';

export interface RelinkPlan {
  readonly action: RelinkAction;
  /** The reason to wait unbound after the plan; undefined when bound after it. */
  readonly fault: IfFault | undefined;
}

/** The fault of an unbound instance in `view`; undefined when it can bind. */
export function ifFaultOf(view: IfView): IfFault | undefined {
  if (!view.link) return 'missing';
  if (view.src === undefined) return 'no-address';
  return undefined;
}

/** What to do with an instance bound as `cur` (undefined: unbound, waiting for `waiting`) given `view`. */
export function planRelink(cur: IfBound | undefined, view: IfView, waiting?: IfFault): RelinkPlan {
  const fault = ifFaultOf(view);
  if (!cur) {
    if (fault === undefined) return { action: 'attach', fault };
    return { action: fault === waiting ? 'keep' : 'wait', fault };
  }
  if (fault !== undefined) return { action: 'detach', fault };
  if (view.link?.ifindex !== cur.ifindex || (cur.vmac && view.vmacAlive === false))
    return { action: 'rebind', fault };
  if (view.src !== cur.src) return { action: 'source', fault };
  return { action: 'keep', fault };
}
