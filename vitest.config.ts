import { defineConfig } from 'vitest/config';

// Tests are tiered by privilege (STYLE.md habit 13): unit needs nothing, net needs root and
// network namespaces, kernel needs the IPVS kernel VM, interop needs Debian's keepalived.
const tier = (name: string, timeout: number) => ({
  test: {
    name,
    include: [`test/${name}/**/*.test.ts`],
    testTimeout: timeout,
    hookTimeout: timeout,
  },
});

export default defineConfig({
  test: {
    projects: [
      tier('unit', 20_000),
      { test: { ...tier('net', 120_000).test, fileParallelism: false } },
      { test: { ...tier('kernel', 600_000).test, fileParallelism: false } },
      { test: { ...tier('interop', 300_000).test, fileParallelism: false } },
    ],
  },
});
