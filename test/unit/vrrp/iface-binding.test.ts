/**
 * planRelink: an instance's binding follows its interface through any order of link and address
 * events (created, deleted, re-created with a new ifindex, address added / removed, VMAC lost).
 * The property runs a simulated kernel and applies each plan as the daemon does; after every event
 * the binding must match what keepalived 2.2.7 was observed to do: bound (out of FAULT) exactly when
 * the interface exists and has a source address, always to the live ifindex and current source.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type IfBound, type IfFault, type IfView, planRelink } from '../../../src/vrrp/iface-binding.js';

describe('planRelink, single steps', () => {
  const bound: IfBound = { ifindex: 5, src: '192.0.2.1', vmac: false };

  it('an unbound instance binds once the interface exists with an address', () => {
    expect(planRelink(undefined, { link: undefined, src: undefined }, 'missing')).toEqual({
      action: 'keep',
      fault: 'missing',
    });
    expect(planRelink(undefined, { link: { ifindex: 7 }, src: undefined }, 'missing')).toEqual({
      action: 'wait',
      fault: 'no-address',
    });
    expect(planRelink(undefined, { link: { ifindex: 7 }, src: '192.0.2.1' }, 'no-address')).toEqual({
      action: 'attach',
      fault: undefined,
    });
  });

  it('a bound instance is released when its interface goes, or loses its only address', () => {
    expect(planRelink(bound, { link: undefined, src: undefined })).toEqual({
      action: 'detach',
      fault: 'missing',
    });
    expect(planRelink(bound, { link: { ifindex: 5 }, src: undefined })).toEqual({
      action: 'detach',
      fault: 'no-address',
    });
  });

  it('a new ifindex under the same name, or a lost VMAC, rebinds; a new source only updates it', () => {
    expect(planRelink(bound, { link: { ifindex: 9 }, src: '192.0.2.1' }).action).toBe('rebind');
    expect(
      planRelink({ ...bound, vmac: true }, { link: { ifindex: 5 }, src: '192.0.2.1', vmacAlive: false })
        .action,
    ).toBe('rebind');
    expect(planRelink(bound, { link: { ifindex: 5 }, src: '192.0.2.9' }).action).toBe('source');
    expect(planRelink(bound, { link: { ifindex: 5 }, src: '192.0.2.1' }).action).toBe('keep');
  });
});

/** A kernel with one named interface (maybe absent), its addresses and a VMAC on it. */
interface Kernel {
  nextIfindex: number;
  link: { ifindex: number; addrs: string[] } | undefined;
  vmacIfindex: number | undefined;
}

type Ev =
  | { kind: 'create' }
  | { kind: 'delete' }
  | { kind: 'addAddr'; a: string }
  | { kind: 'delAddr'; a: string }
  | { kind: 'delVmac' };

const ev: fc.Arbitrary<Ev> = fc.oneof(
  fc.constant({ kind: 'create' as const }),
  fc.constant({ kind: 'delete' as const }),
  fc.constantFrom('192.0.2.1', '192.0.2.2').map((a) => ({ kind: 'addAddr' as const, a })),
  fc.constantFrom('192.0.2.1', '192.0.2.2').map((a) => ({ kind: 'delAddr' as const, a })),
  fc.constant({ kind: 'delVmac' as const }),
);

function applyEvent(k: Kernel, e: Ev): void {
  switch (e.kind) {
    case 'create':
      if (!k.link) k.link = { ifindex: k.nextIfindex++, addrs: [] };
      return;
    case 'delete':
      // the kernel deletes a macvlan with its lower device
      k.link = undefined;
      k.vmacIfindex = undefined;
      return;
    case 'addAddr':
      if (k.link && !k.link.addrs.includes(e.a)) k.link.addrs.push(e.a);
      return;
    case 'delAddr':
      if (k.link) k.link.addrs = k.link.addrs.filter((x) => x !== e.a);
      return;
    case 'delVmac':
      k.vmacIfindex = undefined;
  }
}

describe('planRelink, any order of events', () => {
  it('keeps the binding equal to what the kernel allows, with every plan applied as the daemon does', () => {
    fc.assert(
      fc.property(fc.boolean(), fc.array(ev, { maxLength: 40 }), (useVmac, events) => {
        const k: Kernel = { nextIfindex: 2, link: undefined, vmacIfindex: undefined };
        let cur: IfBound | undefined;
        let waiting: IfFault | undefined = 'missing';
        let vmacOf: number | undefined;
        let faultChanges = 0;
        let prevFault: IfFault | undefined = waiting;
        for (const e of events) {
          applyEvent(k, e);
          const view: IfView = {
            link: k.link ? { ifindex: k.link.ifindex } : undefined,
            src: k.link?.addrs[0],
            ...(cur?.vmac ? { vmacAlive: k.vmacIfindex !== undefined && k.vmacIfindex === vmacOf } : {}),
          };
          const plan = planRelink(cur, view, waiting);
          const bind = () => {
            if (!k.link || view.src === undefined) throw new Error('bind without link or source');
            if (useVmac) {
              k.vmacIfindex = k.nextIfindex++;
              vmacOf = k.vmacIfindex;
            }
            cur = { ifindex: k.link.ifindex, src: view.src, vmac: useVmac };
          };
          switch (plan.action) {
            case 'attach':
              expect(cur).toBeUndefined();
              bind();
              break;
            case 'rebind':
              expect(cur).toBeDefined();
              cur = undefined;
              bind();
              break;
            case 'detach':
              expect(cur).toBeDefined();
              cur = undefined;
              break;
            case 'source':
              if (!cur || view.src === undefined) throw new Error('source change while unbound');
              cur = { ...cur, src: view.src };
              break;
            case 'wait':
            case 'keep':
              break;
          }
          waiting = plan.fault;
          if (plan.fault !== prevFault) faultChanges++;
          prevFault = plan.fault;
          // bound exactly when the interface exists with an address, to its live ifindex and source
          const bindable = k.link !== undefined && k.link.addrs.length > 0;
          expect(cur !== undefined).toBe(bindable);
          expect(plan.fault === undefined).toBe(bindable);
          if (cur && k.link) {
            expect(cur.ifindex).toBe(k.link.ifindex);
            expect(cur.src).toBe(k.link.addrs[0]);
            if (useVmac) expect(k.vmacIfindex).toBe(vmacOf);
          }
          if (!k.link) expect(plan.fault).toBe('missing');
          // a second look at the same kernel changes nothing
          const again = planRelink(cur, { ...view, ...(cur?.vmac ? { vmacAlive: true } : {}) }, waiting);
          expect(again.action).toBe('keep');
        }
        expect(faultChanges).toBeLessThanOrEqual(events.length);
      }),
      { numRuns: 500 },
    );
  });
});
