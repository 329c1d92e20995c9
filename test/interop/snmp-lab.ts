/**
 * snmpd as AgentX master inside a lab node (its own config, socket and UDP port on the node's
 * 127.0.0.1), snmpwalk against it and the trap receiver's output, for the SNMP interop tests.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LabNode, LabProcess } from '../lab/node.js';
import { waitFor } from '../lab/observe.js';
import { parseWalkEntries, type WalkEntry } from './snmp-walk.js';

export const agentxSocket = (node: LabNode): string => join(node.dir, 'agentx');

/** snmpd in `node`, answering v2c `public` on 127.0.0.1:`port`, its traps to 127.0.0.1:`trapPort`. */
export async function startSnmpd(node: LabNode, port: number, trapPort: number): Promise<LabProcess> {
  mkdirSync(node.dir, { recursive: true });
  const conf = join(node.dir, 'snmpd.conf');
  writeFileSync(
    conf,
    [
      'master agentx',
      `agentXSocket unix:${agentxSocket(node)}`,
      'rocommunity public 127.0.0.1',
      `trap2sink 127.0.0.1:${trapPort} public`,
      '',
    ].join('\n'),
  );
  const p = node.spawn(
    [
      '/usr/sbin/snmpd',
      '-f',
      '-Lo',
      '-C',
      '-I',
      '-smux',
      '-c',
      conf,
      '-p',
      join(node.dir, 'snmpd.pid'),
      `udp:127.0.0.1:${port}`,
    ],
    { name: 'snmpd', env: { MIBS: '', SNMP_PERSISTENT_DIR: join(node.dir, 'snmp-persist') } },
  );
  await p.waitForOutput(/NET-SNMP version/, 10_000);
  await waitFor({
    what: 'the AgentX socket',
    probe: () => existsSync(agentxSocket(node)) || undefined,
    timeoutMs: 5_000,
  });
  return p;
}

/** The trap receiver (snmp-trap-receiver.mjs) in `node`, listening on `port`. */
export async function startTrapReceiver(node: LabNode, port: number): Promise<LabProcess> {
  const p = node.spawn(
    [process.execPath, join(import.meta.dirname, 'snmp-trap-receiver.mjs'), String(port)],
    {
      name: 'traps',
    },
  );
  await p.waitForOutput(/listening/, 10_000);
  return p;
}

/** `snmpwalk -On` of `base` through the node's snmpd. */
export async function walkNode(node: LabNode, port: number, base: string): Promise<WalkEntry[]> {
  return parseWalkEntries(
    await node.exec('snmpwalk', [
      '-v2c',
      '-c',
      'public',
      '-On',
      '-t',
      '1',
      '-r',
      '2',
      `127.0.0.1:${port}`,
      base,
    ]),
  );
}

/** One notification as the receiver printed it: its trap OID and its objects (sysUpTime and snmpTrapOID left out). */
export interface ReceivedTrap {
  readonly trap: string;
  readonly objects: readonly { readonly oid: string; readonly value: unknown }[];
}

/** The notifications in the receiver's output `text`, in arrival order. */
export function parseTraps(text: string): ReceivedTrap[] {
  const out: ReceivedTrap[] = [];
  for (const line of text.split('\n')) {
    if (!line.startsWith('{')) continue;
    const vbs = (JSON.parse(line) as { varbinds: { oid: string; value: unknown }[] }).varbinds;
    const trap = String(vbs.find((v) => v.oid === '1.3.6.1.6.3.1.1.4.1.0')?.value);
    const objects = vbs.filter(
      (v) => !v.oid.startsWith('1.3.6.1.2.1.1.3.') && !v.oid.startsWith('1.3.6.1.6.3.1.1.4.1.'),
    );
    out.push({ trap, objects: objects.map((v) => ({ oid: v.oid, value: v.value })) });
  }
  return out;
}
