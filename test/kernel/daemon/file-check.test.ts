/**
 * FILE_CHECK side by side with keepalived 2.2.7 over kernel IPVS (Debian kernel under QEMU,
 * test/lab/vm.ts), one boot: the same configuration runs under keepalived, then under keepalived-ts
 * (bin/keepalived-ts.js from the repository's dist/: `npm run build` first). One virtual server, real
 * servers (SERVERS) each with a FILE_CHECK on its own track file: .11 `weight 0` and .12 `weight 10`
 * as in the task; .13 to .16 combine a FILE_CHECK weight (0 or none) with a track_file weight (2 or
 * none), to see which of the two keepalived uses.
 * Every file gets the same content at each step; after each step the job waits for `ipvsadm -Ln` to
 * stop changing and prints it as an `=== STEP` section.
 */
import { join } from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { needVm } from '../../lab/gates.js';
import { runInVm, sections } from '../../lab/vm.js';
import { describeIf } from '../../support/privilege.js';
import { parseIpvsadm } from '../ipvs/fixtures.js';

const repoRoot = join(import.meta.dirname, '../../..');
const VS = 'TCP 203.0.113.10:80';

/** Steps: name, then what is done to every track file (content written, or deleted). */
const STEPS: readonly (readonly [string, string | null])[] = [
  ['v0', '0'],
  ['v1', '1'],
  ['v010', '010'],
  ['abc', 'abc'],
  ['5abc', '5abc'],
  ['deleted', null],
  ['big', '99999999999'],
  // out of range after a non-zero value: ignored keeps that value's result, read as 0 would not
  ['v1again', '1'],
  ['big2', '99999999999'],
];
/** Section names in order: the start (every file missing), then the steps. */
const ALL = ['missing', ...STEPS.map(([n]) => n)];

const dir = (name: string) => `/run/kt-file-${name}`;

/**
 * The real servers: host part of 198.51.100.x, its weight, the FILE_CHECK's `weight` line (undefined:
 * none) and the track_file block's (undefined: none). Each has its own track file, `f<host>`.
 */
const SERVERS: readonly {
  host: string;
  rsWeight: number;
  check?: string;
  track?: string;
  what: string;
}[] = [
  { host: '11', rsWeight: 1, check: '0', track: '0', what: 'FILE_CHECK weight 0 (track_file weight 0)' },
  { host: '12', rsWeight: 5, check: '10', what: 'FILE_CHECK weight 10' },
  { host: '13', rsWeight: 1, check: '0', what: 'FILE_CHECK weight 0 on a track_file without weight' },
  {
    host: '14',
    rsWeight: 1,
    track: '2',
    what: 'FILE_CHECK without weight on a track_file with weight 2 (takes the block weight)',
  },
  {
    host: '15',
    rsWeight: 1,
    check: '0',
    track: '2',
    what: 'FILE_CHECK weight 0 on a track_file with weight 2',
  },
  { host: '16', rsWeight: 1, what: 'FILE_CHECK without weight on a track_file without weight' },
];
const HOSTS = SERVERS.map((r) => r.host);
const FILES = HOSTS.map((h) => `f${h}`);

const conf = (name: string) =>
  `${SERVERS.map(
    (r) => `track_file tf${r.host} {
  file ${dir(name)}/f${r.host}
${r.track === undefined ? '' : `  weight ${r.track}\n`}}
`,
  ).join('')}virtual_server 203.0.113.10 80 {
  delay_loop 1
  lb_algo wrr
  lb_kind NAT
  protocol TCP
${SERVERS.map(
  (r) => `  real_server 198.51.100.${r.host} 80 {
    weight ${r.rsWeight}
    FILE_CHECK {
      track_file tf${r.host}
${r.check === undefined ? '' : `      weight ${r.check}\n`}    }
  }
`,
).join('')}}
`;

/** The scenario with `daemon` (a command line) as the LVS daemon; track files under /run (tmpfs). */
function script(name: string, daemon: string): string {
  const steps = STEPS.map(([n, v]) =>
    v === null
      ? `rm -f ${FILES.map((f) => `$T/${f}`).join(' ')}; sec ${n}; settle`
      : `put '${v}'; sec ${n}; settle`,
  ).join('\n');
  return `set -u
T=${dir(name)}
D="ip netns exec kf"
sec() { echo "=== $1"; }
adm() { $D ipvsadm -Ln; }
# the table once it has not changed for 4 reads 0.5 s apart (at most 20 s)
settle() {
  sleep 1; prev=$(adm); n=0
  for t in $(seq 1 40); do
    sleep 0.5; cur=$(adm)
    if [ "$cur" = "$prev" ]; then n=$((n+1)); [ $n -ge 3 ] && break; else n=0; prev=$cur; fi
  done
  echo "$prev"
}
put() { for f in ${FILES.join(' ')}; do printf '%s\\n' "$1" > $T/$f; done; }
rm -rf $T; mkdir -p $T
ip netns add kf; ip -n kf link set lo up
$D ${daemon} -n -l -D -f ./keepalived.conf -p ./kt.pid -r ./vrrp.pid -c ./checkers.pid -b ./bfd.pid > daemon.log 2>&1 &
DPID=$!
ok=0; for t in $(seq 1 360); do adm | grep -q 203.0.113.10 && { ok=1; break; }; sleep 0.5; done
sec ready; echo "ok=$ok"
sec missing; settle
${steps}
kill -TERM $DPID
for t in $(seq 1 200); do kill -0 $DPID 2>/dev/null || break; sleep 0.1; done
kill -9 $DPID 2>/dev/null; sleep 0.5
sec log; cat daemon.log
ip netns del kf; rm -rf $T
echo "=== end"
`;
}

/** A section's real servers of the virtual server: "addr:port weight" (absent = not listed). */
function dests(m: Map<string, string>, step: string): string[] {
  const svc = parseIpvsadm(m.get(step) ?? '').find((s) => s.key === VS);
  return (svc?.dests ?? []).map((d) => {
    const [addr, , weight] = d.split(' ');
    return `${addr} ${weight}`;
  });
}

/** One real server's figure in a step: its weight, or '-' when it is not in the table. */
const of = (list: string[], addr: string) =>
  list.find((d) => d.startsWith(`${addr}:80 `))?.split(' ')[1] ?? '-';

describeIf('FILE_CHECK against keepalived 2.2.7 over kernel IPVS (QEMU)', needVm, () => {
  let ts: Map<string, string>;
  let ka: Map<string, string>;

  beforeAll(async () => {
    const job = (name: string, daemon: string) => ({
      name,
      script: script(name, daemon),
      files: { 'keepalived.conf': conf(name) },
    });
    const run = await runInVm(
      [job('ka', '/usr/sbin/keepalived'), job('ts', `${process.execPath} ${repoRoot}/bin/keepalived-ts.js`)],
      { timeoutMs: 540_000 },
    );
    ka = sections(run.jobs[0]?.output ?? '');
    ts = sections(run.jobs[1]?.output ?? '');
    process.stderr.write(
      `file check VM: boot ${Math.round(run.bootMs)} ms, whole run ${Math.round(run.wallMs)} ms\n`,
    );
    if (!ka.has('end')) process.stderr.write(`${run.jobs[0]?.output ?? run.console}\n`);
    if (!ts.has('end')) process.stderr.write(`${run.jobs[1]?.output ?? run.console}\n`);
    for (const step of ALL)
      console.log(
        `file check VM step ${step}:\n--- keepalived\n${ka.get(step) ?? ''}--- keepalived-ts\n${ts.get(step) ?? ''}`,
      );
    console.log(
      `file check VM summary (weight per real server ${HOSTS.map((h) => `.${h}`).join(' ')}, '-' = absent):\n${ALL.map(
        (s) =>
          `  ${s.padEnd(8)} keepalived ${HOSTS.map((h) => of(dests(ka, s), `198.51.100.${h}`)).join(' ')}` +
          `   keepalived-ts ${HOSTS.map((h) => of(dests(ts, s), `198.51.100.${h}`)).join(' ')}`,
      ).join('\n')}`,
    );
  }, 600_000);

  it('both daemons ran every step and put the virtual server in the table', () => {
    for (const m of [ka, ts]) {
      expect(m.get('ready')?.trim()).toBe('ok=1');
      expect(m.has('end')).toBe(true);
      for (const s of ALL) expect(m.get(s) ?? '').toContain('203.0.113.10:80');
    }
  });

  const column = (m: Map<string, string>, addr: string) => ALL.map((s) => `${s} ${of(dests(m, s), addr)}`);

  for (const r of SERVERS)
    it(`.${r.host}, ${r.what}: keepalived's weight or absence at every step`, () => {
      expect(column(ts, `198.51.100.${r.host}`)).toEqual(column(ka, `198.51.100.${r.host}`));
    });
});
