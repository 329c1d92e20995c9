// A real server inside the kernel VM: GET /health answers 200 "ok", anything else the server's name.
import http from 'node:http';

const [addr, name] = process.argv.slice(2);
http
  .createServer((q, s) => s.end(q.url === '/health' ? 'ok\n' : `${name}\n`))
  .listen(80, addr, () => console.log(`listening ${Date.now()}`));
