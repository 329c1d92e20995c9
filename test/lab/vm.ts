/**
 * Kernel VM: Debian's linux-image-amd64 (which has the ip_vs modules) under qemu TCG with a busybox
 * initramfs, the host root mounted read-only over virtio 9p and a job folder read-write. Follows the
 * recipe in the wire-and-kernel reference, section 7. One boot runs several jobs in sequence.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePackagesSync, VM_PACKAGES } from './gates.js';
import { killQuiet, LabError, registerCleanup, removeDirSync, run } from './resources.js';

/** Modules loaded at boot (with their dependencies): IPVS and schedulers, links, 9p. */
export const VM_MODULES = [
  'ip_vs',
  'ip_vs_rr',
  'ip_vs_wrr',
  'ip_vs_lc',
  'ip_vs_wlc',
  'ip_vs_sh',
  'ip_vs_mh',
  'ip_vs_dh',
  'ip_vs_sed',
  'ip_vs_nq',
  'ip_vs_fo',
  'ip_vs_ovf',
  'ip_vs_lblc',
  'ip_vs_lblcr',
  'veth',
  'macvlan',
  'bridge',
  'dummy',
  'nlmon',
  'sch_netem',
  '9p',
  '9pnet_virtio',
  'virtio_pci',
] as const;

/** This checkout; the VM sees it at the same path even when it lies under /tmp (CI clones). */
const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
if (/\s/.test(REPO_ROOT)) throw new LabError(`the VM needs a checkout path without blanks: ${REPO_ROOT}`);

// The init of the reference recipe, plus a boot stamp for the host to time the boot.
const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin; export PATH=/bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mods/order); do insmod /mods/$m 2>/dev/null || echo "insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose hostroot /newroot || poweroff -f
for d in proc sys dev; do mount --bind /$d /newroot/$d; done
mount -t tmpfs tmpfs /newroot/tmp; mount -t tmpfs tmpfs /newroot/run; mkdir -p /newroot/tmp/job /newroot/run/netns
mount -t 9p -o trans=virtio,version=9p2000.L,rw job /newroot/tmp/job
# The checkout, read-only at its host path when that path is hidden by the private /tmp or /run.
REPO=$(sed -n 's/.*ktrepo=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
case "$REPO" in /tmp/*|/run/*) mkdir -p "/newroot$REPO"; mount -t 9p -o trans=virtio,version=9p2000.L,ro,cache=loose repo "/newroot$REPO";; esac
ip link set lo up
cut -d' ' -f1 /proc/uptime > /newroot/tmp/job/booted
chroot /newroot /usr/bin/env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \\
  /bin/sh -c 'cd /tmp/job && exec /bin/sh ./job.sh' > /newroot/tmp/job/out.log 2>&1
echo "JOB EXIT $?" >> /newroot/tmp/job/out.log; sync; umount /newroot/tmp/job; poweroff -f
`;

export interface VmKernel {
  readonly version: string;
  readonly vmlinuz: string;
}

/** The newest installed Debian amd64 kernel (need not be the running one). */
export function vmKernel(): VmKernel {
  const versions = existsSync('/lib/modules')
    ? readdirSync('/lib/modules')
        .filter((v) => v.endsWith('-amd64') && existsSync(`/boot/vmlinuz-${v}`))
        .sort((a, b) => a.localeCompare(b, undefined, { numeric: true }))
    : [];
  const version = versions.at(-1);
  if (!version) throw new LabError('no Debian amd64 kernel installed (apt-get install linux-image-amd64)');
  return { version, vmlinuz: `/boot/vmlinuz-${version}` };
}

/** Cache directory for initramfs images: $XDG_CACHE_HOME or ~/.cache, under keepalived-ts/vm. */
export const vmCacheDir = (): string =>
  join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'keepalived-ts', 'vm');

/**
 * Build (or reuse) the initramfs for a kernel: busybox, the modules (dependencies first, via
 * `modprobe -a --show-depends`) and the init. Cached by kernel version and content hash.
 */
export async function ensureInitramfs(kernel: VmKernel = vmKernel()): Promise<string> {
  const busybox = '/bin/busybox';
  if (!existsSync(busybox)) throw new LabError('busybox-static is not installed');
  const deps = await run('modprobe', ['-S', kernel.version, '-a', '--show-depends', ...VM_MODULES]);
  const seen = new Set<string>();
  const kos: string[] = [];
  for (const line of deps.split('\n')) {
    const [verb, path] = line.trim().split(/\s+/);
    if (verb === 'insmod' && path && !seen.has(path)) {
      seen.add(path);
      kos.push(path);
    }
  }
  if (!kos.some((k) => basename(k) === 'ip_vs.ko'))
    throw new LabError(`kernel ${kernel.version} has no ip_vs.ko`);
  const key = createHash('sha256')
    .update(INIT)
    .update(kos.join('\n'))
    .update(String(statSync(busybox).size))
    .digest('hex')
    .slice(0, 12);
  const dir = vmCacheDir();
  const image = join(dir, `initrd-${kernel.version}-${key}.cpio.gz`);
  if (existsSync(image)) return image;
  mkdirSync(dir, { recursive: true });
  const work = mkdtempSync(join(tmpdir(), 'kt-initrd-'));
  try {
    for (const d of ['bin', 'proc', 'sys', 'dev', 'newroot', 'mods']) mkdirSync(join(work, d));
    copyFileSync(busybox, join(work, 'bin/busybox'));
    const order: string[] = [];
    for (const ko of kos) {
      const name = basename(ko);
      if (!name.endsWith('.ko')) throw new LabError(`compressed module ${name} not supported`);
      copyFileSync(ko, join(work, 'mods', name));
      order.push(name);
    }
    writeFileSync(join(work, 'mods/order'), `${order.join('\n')}\n`);
    writeFileSync(join(work, 'init'), INIT);
    chmodSync(join(work, 'init'), 0o755);
    const tmpImage = `${image}.${process.pid}.tmp`;
    const r = spawnSync(
      'sh',
      ['-c', 'cd "$1" && find . | cpio -o -H newc --quiet | gzip -1 > "$2"', 'sh', work, tmpImage],
      { encoding: 'utf8' },
    );
    if (r.status !== 0) throw new LabError(`initramfs build failed: ${r.stderr}`);
    // Rename is atomic, so parallel runs building the same image never see a partial file.
    renameSync(tmpImage, image);
    return image;
  } finally {
    removeDirSync(work);
  }
}

export interface VmJob {
  readonly name: string;
  /** Shell script run as root inside the VM (host binaries, private /tmp and /run, no network). */
  readonly script: string;
  /** Extra files written next to the script (relative names). */
  readonly files?: Readonly<Record<string, string>>;
}

export interface VmJobResult {
  readonly name: string;
  readonly exitCode: number | null;
  readonly output: string;
}

export interface VmRun {
  readonly jobs: readonly VmJobResult[];
  /** Host wall time from qemu start until the job share showed the boot stamp. */
  readonly bootMs: number;
  /** Guest uptime (kernel start → job start) in ms. */
  readonly guestBootMs: number;
  /** Host wall time of the whole run (qemu start → exit). */
  readonly wallMs: number;
  /** Exit marker of the driver script, the serial console (for diagnosis). */
  readonly driverOutput: string;
  readonly console: string;
}

export interface VmOptions {
  readonly timeoutMs?: number;
  readonly memoryMb?: number;
  readonly cpus?: number;
}

const driverScript = (jobs: readonly VmJob[]): string =>
  [
    '#!/bin/sh',
    ...jobs.map((_, i) => `(cd /tmp/job/j${i} && /bin/sh ./job.sh > out.log 2>&1; echo $? > exit)`),
    '',
  ].join('\n');

/** Boot the VM once, run the jobs in order (each in its own folder), power off and collect results. */
export async function runInVm(jobs: readonly VmJob[], opts: VmOptions = {}): Promise<VmRun> {
  const why = ensurePackagesSync(VM_PACKAGES);
  if (why !== null) throw new LabError(why);
  const kernel = vmKernel();
  const initrd = await ensureInitramfs(kernel);
  const jobDir = mkdtempSync(join(tmpdir(), 'kt-vmjob-'));
  const releaseDir = registerCleanup(`vm job dir ${jobDir}`, () => removeDirSync(jobDir));
  try {
    writeFileSync(join(jobDir, 'job.sh'), driverScript(jobs));
    jobs.forEach((job, i) => {
      const d = join(jobDir, `j${i}`);
      mkdirSync(d);
      writeFileSync(join(d, 'job.sh'), job.script);
      for (const [name, text] of Object.entries(job.files ?? {})) writeFileSync(join(d, name), text);
    });
    const consolePath = join(jobDir, 'console.log');
    const consoleFd = openSync(consolePath, 'w');
    const t0 = performance.now();
    const child = spawn(
      'qemu-system-x86_64',
      [
        '-accel',
        'tcg',
        '-cpu',
        'max',
        '-m',
        String(opts.memoryMb ?? 1024),
        '-smp',
        String(opts.cpus ?? 2),
        '-nographic',
        '-no-reboot',
        '-nic',
        'none',
        '-kernel',
        kernel.vmlinuz,
        '-initrd',
        initrd,
        '-append',
        `console=ttyS0 quiet panic=-1 ktrepo=${REPO_ROOT}`,
        '-virtfs',
        'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
        '-virtfs',
        `local,path=${REPO_ROOT},mount_tag=repo,security_model=none,readonly=on,multidevs=remap`,
        '-virtfs',
        `local,path=${jobDir},mount_tag=job,security_model=none,multidevs=remap`,
      ],
      { stdio: ['ignore', consoleFd, consoleFd] },
    );
    closeSync(consoleFd);
    const pid = child.pid;
    if (pid === undefined) throw new LabError('could not start qemu-system-x86_64');
    const releaseQemu = registerCleanup(`qemu ${pid}`, () => killQuiet(pid, 'SIGKILL'));
    const timeoutMs = opts.timeoutMs ?? 300_000;
    let timedOut = false;
    let bootMs = Number.NaN;
    const stampPath = join(jobDir, 'booted');
    const poll = setInterval(() => {
      if (Number.isNaN(bootMs) && existsSync(stampPath)) bootMs = performance.now() - t0;
    }, 50);
    const killer = setTimeout(() => {
      timedOut = true;
      killQuiet(pid, 'SIGKILL');
    }, timeoutMs);
    const exit = await new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
    const wallMs = performance.now() - t0;
    clearTimeout(killer);
    clearInterval(poll);
    releaseQemu();
    const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : '');
    const consoleText = read(consolePath);
    const driverOutput = read(join(jobDir, 'out.log'));
    if (timedOut || !/JOB EXIT \d+/.test(driverOutput)) {
      throw new LabError(
        `VM run ${timedOut ? `timed out after ${timeoutMs} ms` : `ended without a job result (qemu exit ${exit})`}; ` +
          `console tail: ${consoleText.slice(-2000)}`,
      );
    }
    const results = jobs.map((job, i): VmJobResult => {
      const code = read(join(jobDir, `j${i}`, 'exit')).trim();
      return {
        name: job.name,
        exitCode: /^\d+$/.test(code) ? Number(code) : null,
        output: read(join(jobDir, `j${i}`, 'out.log')),
      };
    });
    const guestBootMs = Number(read(stampPath).trim()) * 1000;
    return { jobs: results, bootMs, guestBootMs, wallMs, driverOutput, console: consoleText };
  } finally {
    removeDirSync(jobDir);
    releaseDir();
  }
}

/** Splits a job's output into its `=== NAME` sections (the convention of the VM jobs). */
export function sections(output: string): Map<string, string> {
  const m = new Map<string, string>();
  let name = '';
  for (const line of output.split('\n')) {
    const h = /^=== (\S+)/.exec(line);
    if (h) {
      name = h[1] as string;
      m.set(name, '');
    } else if (name) m.set(name, `${m.get(name)}${line}\n`);
  }
  return m;
}
