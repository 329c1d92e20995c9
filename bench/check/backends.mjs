// Backends for bench/check/checkers.mjs, run inside the bench namespace:
//   node backends.mjs HTTP_PORT_BASE TCP_PORT_BASE COUNT
// Listens on 0.0.0.0: COUNT HTTP servers and COUNT plain TCP servers (accept, close).
import http from 'node:http';
import net from 'node:net';

const [httpBase, tcpBase, count] = process.argv.slice(2).map(Number);
const body = 'ok\n'.repeat(100);
let pending = 0;
const ready = () => {
  if (--pending === 0) process.stdout.write('ready\n');
};
for (let i = 0; i < count; i++) {
  pending += 2;
  const h = http.createServer((_q, s) => {
    s.setHeader('Connection', 'close');
    s.end(body);
  });
  h.keepAliveTimeout = 0;
  h.listen({ port: httpBase + i, host: '0.0.0.0', backlog: 4096 }, ready);
  net.createServer((s) => s.end()).listen({ port: tcpBase + i, host: '0.0.0.0', backlog: 4096 }, ready);
}
