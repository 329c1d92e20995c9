/**
 * Gates for lab tests, used with `describeIf(name, gate, body)` from test/support/privilege.ts: each
 * returns null when the test can run, or the reason it cannot (the test then fails in CI and is
 * skipped elsewhere with that reason). Missing Debian packages are installed with apt-get when we are
 * root, as the lab promises; a failed install becomes the reason.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { needRoot } from '../support/privilege.js';

/** Packages every namespace test needs. */
export const LAB_PACKAGES = ['iproute2', 'nftables', 'tcpdump', 'iputils-ping'] as const;
/** Packages for interop tests with Debian's keepalived. */
export const KEEPALIVED_PACKAGES = [...LAB_PACKAGES, 'keepalived'] as const;
/** Packages for the IPVS kernel VM. */
export const VM_PACKAGES = [
  'qemu-system-x86',
  'linux-image-amd64',
  'busybox-static',
  'ipvsadm',
  'cpio',
  'kmod',
] as const;

const installed = (pkg: string): boolean => {
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a dpkg-query format, not a template
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
};

let aptUpdated = false;
const memo = new Map<string, string | null>();

/** Install the missing packages (root + apt-get); null when all are present afterwards. */
export function ensurePackagesSync(pkgs: readonly string[]): string | null {
  const key = pkgs.join(' ');
  const cached = memo.get(key);
  if (cached !== undefined) return cached;
  const result = ensureUncached(pkgs);
  memo.set(key, result);
  return result;
}

function ensureUncached(pkgs: readonly string[]): string | null {
  if (!existsSync('/usr/bin/dpkg-query')) return `needs the Debian packages ${pkgs.join(' ')} (no dpkg here)`;
  const missing = pkgs.filter((p) => !installed(p));
  if (missing.length === 0) return null;
  const root = needRoot();
  if (root !== null) return `needs the Debian packages ${missing.join(' ')} (${root})`;
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  if (!aptUpdated) {
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env });
    aptUpdated = true;
  }
  const r = spawnSync('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
    encoding: 'utf8',
    env,
  });
  const still = missing.filter((p) => !installed(p));
  if (still.length > 0)
    return `needs the Debian packages ${still.join(' ')} (apt-get failed: ${r.stderr.trim()})`;
  return null;
}

/** Root, namespaces and the lab tools (ip, nft, tcpdump). */
export const needLab = (): string | null => needRoot() ?? ensurePackagesSync(LAB_PACKAGES);

/** needLab plus Debian's keepalived. */
export const needKeepalived = (): string | null => needRoot() ?? ensurePackagesSync(KEEPALIVED_PACKAGES);

/** The IPVS kernel VM: qemu, a Debian kernel with its modules, busybox, ipvsadm. */
export const needVm = (): string | null => needRoot() ?? ensurePackagesSync(VM_PACKAGES);
