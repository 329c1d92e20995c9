/**
 * `use_vmac`: keepalived's per-instance macvlan `vrrp.<VRID>` (mode private) carrying the VRRP MAC
 * 00:00:5e:00:0{1,2}:VRID, with the sysctls keepalived sets (reference wire-and-kernel §3.10, §4.4):
 * on an IPv4 VMAC arp_ignore=1, accept_local=1, rp_filter=0, promote_secondaries=1, disable_ipv6=1;
 * addr_gen_mode none on every VMAC; on the parent arp_ignore=1, arp_filter=1 (the old values are put
 * back at stop, which keepalived 2.2.7 itself fails to do). An IPv6 VMAC gets the parent's link-local
 * (nodad, preferred 0) so adverts keep the parent's source. Deleted at stop.
 *
 * Also the instance keyword `promote_secondaries` (keepalived vrrp_if_config.c): promote_secondaries=1
 * on the instance's interface unless it already is 1, counted per interface, set back to 0 when the
 * last instance using it stops (as keepalived does; an interface found at 1 is never touched).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { KaError } from '../core/errors.js';
import type { Logger } from '../core/log.js';
import './vrrp-errors.js';
import { isSysError } from '../sys/errors.js';
import {
  delLink,
  IN6_ADDR_GEN_MODE_NONE,
  IPV4_DEVCONF_ACCEPT_LOCAL,
  IPV4_DEVCONF_ARP_IGNORE,
  IPV4_DEVCONF_ARPFILTER,
  IPV4_DEVCONF_PROMOTE_SECONDARIES,
  IPV4_DEVCONF_RP_FILTER,
  type LinkInfo,
  MACVLAN_MODE_PRIVATE,
  newAddr,
  newMacvlan,
  setAddrGenMode,
  setInetConf,
  setLinkUp,
} from '../wire/rtnetlink.js';
import type { NetState } from './netstate.js';

/** The VRRP virtual MAC of a VRID (RFC 5798 §7.3). */
export const vrrpMac = (family: 4 | 6, vrid: number): string =>
  `00:00:5e:00:0${family === 4 ? 1 : 2}:${vrid.toString(16).padStart(2, '0')}`;

/** Longest interface name (IFNAMSIZ less the NUL). */
const IFNAME_MAX = 15;

/**
 * The name of a VMAC that use_vmac does not name, as keepalived 2.2.7 chooses it (observed:
 * `vrrp.52`, then `vrrp1.52` for a second VMAC of VRID 52 on another interface; an IPv6 one next to
 * an IPv4 one is `vrrp6.52`): `<prefix>.<vrid>`, else `<prefix><n>.<vrid>` with n = 1, 2, … for IPv4
 * and 6, 1, 2, 3, 4, 5, 7, … for IPv6, the first name not `taken` (another instance's VMAC, or an
 * interface that is not this instance's VMAC). The prefix is shortened to fit 15 characters.
 */
export function vmacAutoName(
  prefix: string,
  vrid: number,
  family: 4 | 6,
  taken: (name: string) => boolean,
): string {
  const make = (num: string) => {
    const tail = `${num}.${vrid}`;
    return `${prefix.slice(0, Math.max(0, IFNAME_MAX - tail.length))}${tail}`;
  };
  let name = make('');
  // 255 VRIDs at most share a prefix per family: the loop ends well before n reaches 1,000
  for (let i = 0, n = 0; taken(name) && i < 1000; i++) {
    if (family === 6) n = n === 0 ? 6 : n === 6 ? 1 : n + 1 === 6 ? 7 : n + 1;
    else n++;
    name = make(String(n));
  }
  return name;
}

export interface VmacSpec {
  readonly name: string;
  readonly mac: string;
  readonly parent: LinkInfo;
  readonly family: 4 | 6;
  /** The parent's IPv6 link-local (IPv6 VMACs only). */
  readonly linkLocal?: string;
}

const sysctlPath = (family: 4 | 6, ifname: string, key: string) =>
  `/proc/sys/net/ipv${family}/conf/${ifname}/${key}`;

function readSysctl(family: 4 | 6, ifname: string, key: string): number | undefined {
  try {
    return Number(readFileSync(sysctlPath(family, ifname, key), 'utf8').trim());
  } catch {
    return undefined;
  }
}

/** Wait for NetState to report the link named `name` (created a moment ago). */
function waitLink(net: NetState, name: string, timeoutMs: number): Promise<LinkInfo> {
  const now = net.link(name);
  if (now) return Promise.resolve(now);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      net.off('link', on);
      const l = net.link(name);
      if (l) resolve(l);
      else
        reject(
          new KaError('KA_ERR_VRRP_VMAC', `link ${name} not reported by the kernel after ${timeoutMs} ms`, {
            name,
          }),
        );
    }, timeoutMs);
    const on = (l: LinkInfo) => {
      if (l.name !== name || l.deleted) return;
      clearTimeout(timer);
      net.off('link', on);
      resolve(l);
    };
    net.on('link', on);
  });
}

export class VmacManager {
  private readonly created = new Map<string, number>();
  /** Parent sysctls changed, with their values before: restored at stop. */
  private readonly saved = new Map<
    string,
    { ifindex: number; ifname: string; arpIgnore: number; arpFilter: number }
  >();

  /** Interfaces whose promote_secondaries we set to 1: users left (reset to 0 at the last). */
  private readonly promoted = new Map<string, { ifindex: number; users: number }>();

  constructor(
    private readonly net: NetState,
    private readonly log: Logger,
  ) {}

  /** Create (or re-create, after a crash left one) the VMAC and configure it; returns its link. */
  async create(s: VmacSpec): Promise<LinkInfo> {
    try {
      return await this.make(s);
    } catch (e) {
      if (e instanceof KaError) throw e;
      throw new KaError(
        'KA_ERR_VRRP_VMAC',
        `(${s.name}) cannot create VMAC: ${(e as Error).message}`,
        { name: s.name },
        { cause: e },
      );
    }
  }

  private async make(s: VmacSpec): Promise<LinkInfo> {
    const stale = this.net.link(s.name);
    if (stale) {
      this.log.info(`(${s.name}) removing stale VMAC interface`);
      await this.net.request(delLink(stale.ifindex)).catch(() => undefined);
    }
    try {
      await this.net.request(
        newMacvlan({ name: s.name, parentIndex: s.parent.ifindex, mac: s.mac, mode: MACVLAN_MODE_PRIVATE }),
      );
    } catch (e) {
      if (!isSysError(e, 'EEXIST')) throw e;
    }
    const link = await waitLink(this.net, s.name, 5_000);
    this.created.set(s.name, link.ifindex);
    if (s.family === 4) {
      await this.net.request(
        setInetConf(link.ifindex, [
          [IPV4_DEVCONF_ARP_IGNORE, 1],
          [IPV4_DEVCONF_ACCEPT_LOCAL, 1],
          [IPV4_DEVCONF_RP_FILTER, 0],
          [IPV4_DEVCONF_PROMOTE_SECONDARIES, 1],
        ]),
      );
      try {
        writeFileSync(sysctlPath(6, s.name, 'disable_ipv6'), '1');
      } catch {
        // IPv6 disabled in this kernel: nothing to turn off
      }
      await this.parentArp(s.parent);
    }
    await this.net.request(setAddrGenMode(link.ifindex, IN6_ADDR_GEN_MODE_NONE)).catch((e) => {
      this.log.warn({ err: e }, `(${s.name}) cannot set addr_gen_mode none: ${(e as Error).message}`);
    });
    await this.net.request(setLinkUp(link.ifindex));
    if (s.family === 6 && s.linkLocal) {
      await this.net
        .request(
          newAddr(
            {
              family: 6,
              ifindex: link.ifindex,
              address: s.linkLocal,
              prefixlen: 64,
              nodad: true,
              preferredLft: 0,
            },
            { create: true },
          ),
        )
        .catch((e) => {
          if (!isSysError(e, 'EEXIST')) throw e;
        });
    }
    this.log.info(`(${s.name}) VMAC ${s.mac} created on ${s.parent.name}`);
    return (await waitLink(this.net, s.name, 1_000)) ?? link;
  }

  /** arp_ignore=1, arp_filter=1 on the parent (once per parent), old values kept for stop(). */
  private async parentArp(parent: LinkInfo): Promise<void> {
    // a parent deleted and re-created (new ifindex) is a new interface with its own values
    if (this.saved.get(parent.name)?.ifindex === parent.ifindex) return;
    const arpIgnore = readSysctl(4, parent.name, 'arp_ignore') ?? 0;
    const arpFilter = readSysctl(4, parent.name, 'arp_filter') ?? 0;
    this.saved.set(parent.name, { ifindex: parent.ifindex, ifname: parent.name, arpIgnore, arpFilter });
    await this.net.request(
      setInetConf(parent.ifindex, [
        [IPV4_DEVCONF_ARP_IGNORE, 1],
        [IPV4_DEVCONF_ARPFILTER, 1],
      ]),
    );
  }

  /** An instance with promote_secondaries starts on `link`. Errors are logged, not thrown. */
  async holdPromoteSecondaries(link: LinkInfo): Promise<void> {
    const held = this.promoted.get(link.name);
    if (held) {
      held.users++;
      return;
    }
    if (readSysctl(4, link.name, 'promote_secondaries') === 1) return; // already on: left alone
    try {
      await this.net.request(setInetConf(link.ifindex, [[IPV4_DEVCONF_PROMOTE_SECONDARIES, 1]]));
      this.promoted.set(link.name, { ifindex: link.ifindex, users: 1 });
    } catch (e) {
      this.log.warn({ err: e }, `${link.name}: cannot set promote_secondaries: ${(e as Error).message}`);
    }
  }

  /** An instance holding promote_secondaries on `ifname` stops; the last one sets it back to 0. */
  async releasePromoteSecondaries(ifname: string): Promise<void> {
    const held = this.promoted.get(ifname);
    if (!held || --held.users > 0) return;
    this.promoted.delete(ifname);
    await this.resetPromote(ifname, held.ifindex);
  }

  private async resetPromote(ifname: string, ifindex: number): Promise<void> {
    try {
      await this.net.request(setInetConf(ifindex, [[IPV4_DEVCONF_PROMOTE_SECONDARIES, 0]]));
    } catch (e) {
      if (!isSysError(e, 'ENODEV'))
        this.log.warn({ err: e }, `${ifname}: cannot reset promote_secondaries: ${(e as Error).message}`);
    }
  }

  /** Delete one VMAC (an instance removed by reload). */
  async remove(name: string): Promise<void> {
    const ifindex = this.created.get(name);
    if (ifindex === undefined) return;
    this.created.delete(name);
    try {
      await this.net.request(delLink(ifindex));
    } catch (e) {
      if (!isSysError(e, 'ENODEV'))
        this.log.warn({ err: e }, `(${name}) cannot delete VMAC: ${(e as Error).message}`);
    }
  }

  /**
   * Delete every VMAC made here and put the parents' sysctls (and promote_secondaries) back.
   * Errors are logged, not thrown.
   */
  async stop(): Promise<void> {
    for (const [name, p] of this.promoted)
      if (![...this.created.values()].includes(p.ifindex)) await this.resetPromote(name, p.ifindex);
    this.promoted.clear();
    for (const [name, ifindex] of this.created) {
      try {
        await this.net.request(delLink(ifindex));
      } catch (e) {
        if (!isSysError(e, 'ENODEV'))
          this.log.warn({ err: e }, `(${name}) cannot delete VMAC: ${(e as Error).message}`);
      }
    }
    this.created.clear();
    for (const s of this.saved.values()) {
      try {
        await this.net.request(
          setInetConf(s.ifindex, [
            [IPV4_DEVCONF_ARP_IGNORE, s.arpIgnore],
            [IPV4_DEVCONF_ARPFILTER, s.arpFilter],
          ]),
        );
      } catch (e) {
        // a parent deleted meanwhile (dynamic interfaces) has nothing to restore
        if (!isSysError(e, 'ENODEV'))
          this.log.warn(
            { err: e },
            `${s.ifname}: cannot restore arp_ignore/arp_filter: ${(e as Error).message}`,
          );
      }
    }
    this.saved.clear();
  }
}
