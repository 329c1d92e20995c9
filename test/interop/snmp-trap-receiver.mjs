// Trap receiver for test/interop/snmp.test.ts, run inside a lab node: prints one JSON line per
// notification snmpd forwards (v2c, community public), octet strings in hex.
import snmp from 'net-snmp';

const port = Number(process.argv[2]);
const receiver = snmp.createReceiver({ port, address: '127.0.0.1', disableAuthorization: true }, (err, n) => {
  if (err) {
    process.stderr.write(`${err.message}\n`);
    return;
  }
  const varbinds = n.pdu.varbinds.map((v) => ({
    oid: v.oid,
    type: v.type,
    value: Buffer.isBuffer(v.value) ? v.value.toString('hex') : v.value,
  }));
  process.stdout.write(`${JSON.stringify({ varbinds })}\n`);
});
process.on('SIGTERM', () => receiver.close(() => process.exit(0)));
process.stdout.write('listening\n');
