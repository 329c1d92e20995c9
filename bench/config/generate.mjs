// The bench file: 1,000 vrrp_instances, 1,000 virtual servers x 10 real servers (52,003 lines).
export function generate() {
  const out = ['global_defs {', '    router_id bench', '}'];
  for (let i = 0; i < 1000; i++) {
    // VRIDs repeat every 250 instances; a distinct multicast group keeps each (VRID, group) unique
    out.push(
      `vrrp_instance VI_${i} {`,
      '    interface eth0',
      `    virtual_router_id ${(i % 250) + 1}`,
      `    mcast_dst_ip 224.0.1.${Math.floor(i / 250) + 1}`,
      `    priority ${100 + (i % 50)}`,
      `    virtual_ipaddress { 192.0.2.${(i % 250) + 1}/24 }`,
      '}',
    );
  }
  for (let v = 0; v < 1000; v++) {
    out.push(
      `virtual_server 203.0.113.${(v % 250) + 1} ${1000 + v} {`,
      '    lvs_sched wlc',
      '    lvs_method DR',
      '    protocol TCP',
    );
    for (let r = 0; r < 10; r++) {
      out.push(
        `    real_server 198.51.100.${r + 1} ${1000 + v} {`,
        '        weight 1',
        '        TCP_CHECK { connect_timeout 3 }',
        '    }',
      );
    }
    out.push('}');
  }
  return `${out.join('\n')}\n`;
}
