/**
 * The model is immutable through its types: load.ts no longer deep-freezes it at run time (a walk
 * over about 100,000 objects of a large file), so every property and array of KeepalivedConfig, at any
 * depth, must be readonly. `tsc` (npm run typecheck) evaluates the checks below; the test also
 * checks at run time that the root object is frozen and that loading twice gives equal models.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/load.js';
import type { KeepalivedConfig } from '../../../src/config/model.js';

/** true when property K of T is declared readonly. */
type IsReadonlyKey<T, K extends keyof T> =
  (<U>() => U extends { [P in K]: T[K] } ? 1 : 2) extends <U>() => U extends { -readonly [P in K]: T[K] }
    ? 1
    : 2
    ? false
    : true;

/** Names of the mutable properties or arrays found anywhere below T (never when all are readonly). */
type MutablePaths<T, Path extends string = ''> = T extends
  | string
  | number
  | boolean
  | bigint
  | undefined
  | null
  ? never
  : T extends readonly (infer E)[]
    ? T extends E[]
      ? `${Path}[] (mutable array)`
      : MutablePaths<E, `${Path}[]`>
    : T extends object
      ? {
          [K in keyof T & string]: IsReadonlyKey<T, K> extends true
            ? MutablePaths<T[K], `${Path}.${K}`>
            : `${Path}.${K}`;
        }[keyof T & string]
      : never;

type Found = MutablePaths<KeepalivedConfig>;
/** Compiles only when nothing in the model is mutable; a mutable field names itself in the error. */
const noMutablePath: [Found] extends [never] ? true : Found = true;

// The checker must be able to fail: a model with one mutable field deep down is caught.
type Probe = { readonly a: readonly { readonly b: { c: number } }[] };
const probe: MutablePaths<Probe> = '.a[].b.c';

const dir = mkdtempSync(join(tmpdir(), 'kt-readonly-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('config model immutability', () => {
  it('has only readonly properties and arrays, at every depth (checked by tsc)', () => {
    expect(noMutablePath).toBe(true);
    expect(probe).toBe('.a[].b.c');
  });

  it('freezes the root and gives equal models for the same file', () => {
    const file = join(dir, 'k.conf');
    writeFileSync(
      file,
      [
        'vrrp_instance VI_1 {',
        '  interface eth0',
        '  virtual_router_id 7',
        '  virtual_ipaddress { 192.0.2.7/24 }',
        '}',
        'virtual_server 203.0.113.1 80 {',
        '  real_server 198.51.100.1 80 { TCP_CHECK { connect_timeout 3 } }',
        '}',
        '',
      ].join('\n'),
    );
    const a = loadConfig(file, { configId: 'n', randomSeed: 1 }).config;
    const b = loadConfig(file, { configId: 'n', randomSeed: 1 }).config;
    expect(Object.isFrozen(a)).toBe(true);
    expect(a.vrrpInstances).toHaveLength(1);
    expect(a.virtualServers[0]?.realServers[0]?.checkers).toHaveLength(1);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
  });
});
