/**
 * Generic netlink controller (nlctrl, GENL_ID_CTRL 0x10): CTRL_CMD_GETFAMILY request and the
 * CTRL_CMD_NEWFAMILY reply, to resolve a family's dynamic id (IPVS) and multicast groups.
 * Facts: shared/reference/wire-and-kernel.md §5.1.
 */
import { KaError } from '../core/errors.js';
import { PacketErrors, RtnlErrors } from './errors.js';
import {
  attrMap,
  decodeAttrs,
  decodeGenlHeader,
  genlHeader,
  NLM_F_REQUEST,
  type NlMsg,
  readStr,
  readU16,
  readU32,
  strz,
} from './netlink.js';
import type { RtRequest } from './rtnetlink.js';

export const GENL_ID_CTRL = 0x10;
export const CTRL_CMD_NEWFAMILY = 1;
export const CTRL_CMD_GETFAMILY = 3;
export const CTRL_ATTR_FAMILY_ID = 1;
export const CTRL_ATTR_FAMILY_NAME = 2;
export const CTRL_ATTR_VERSION = 3;
export const CTRL_ATTR_HDRSIZE = 4;
export const CTRL_ATTR_MAXATTR = 5;
export const CTRL_ATTR_OPS = 6;
export const CTRL_ATTR_MCAST_GROUPS = 7;
export const CTRL_ATTR_MCAST_GRP_NAME = 1;
export const CTRL_ATTR_MCAST_GRP_ID = 2;

export interface GenlFamily {
  id: number;
  name: string;
  version: number;
  hdrsize: number;
  maxattr: number;
  mcastGroups: { name: string; id: number }[];
}

/** CTRL_CMD_GETFAMILY for `name` (version 1; FAMILY_NAME is NLA_NUL_STRING, so the NUL is sent). */
export function getFamilyRequest(name: string): RtRequest {
  if (typeof name !== 'string' || name.length === 0 || name.length > 15 || name.includes('\0')) {
    throw new KaError(
      PacketErrors.KA_ERR_WIRE_BAD_FIELD,
      `bad generic netlink family name ${JSON.stringify(name)}`,
    );
  }
  return {
    type: GENL_ID_CTRL,
    flags: NLM_F_REQUEST,
    header: genlHeader(CTRL_CMD_GETFAMILY, 1),
    attrs: [strz(CTRL_ATTR_FAMILY_NAME, name)],
  };
}

function bad(message: string): never {
  throw new KaError(RtnlErrors.KA_ERR_GENL_BAD_REPLY, message);
}

/** Decodes a CTRL_CMD_NEWFAMILY reply. */
export function decodeFamily(msg: NlMsg): GenlFamily {
  if (msg.type !== GENL_ID_CTRL) bad(`message type ${msg.type} is not nlctrl`);
  const g = decodeGenlHeader(msg.payload);
  if (g.cmd !== CTRL_CMD_NEWFAMILY) bad(`nlctrl command ${g.cmd} is not NEWFAMILY`);
  const a = attrMap(g.attrs);
  const id = readU16(a.get(CTRL_ATTR_FAMILY_ID));
  const name = readStr(a.get(CTRL_ATTR_FAMILY_NAME));
  if (id === undefined || name === undefined) bad('nlctrl reply without family id or name');
  const mcastGroups: { name: string; id: number }[] = [];
  const groups = a.get(CTRL_ATTR_MCAST_GROUPS);
  if (groups) {
    for (const entry of decodeAttrs(groups)) {
      const e = attrMap(decodeAttrs(entry.value));
      const gname = readStr(e.get(CTRL_ATTR_MCAST_GRP_NAME));
      const gid = readU32(e.get(CTRL_ATTR_MCAST_GRP_ID));
      if (gname !== undefined && gid !== undefined) mcastGroups.push({ name: gname, id: gid });
    }
  }
  return {
    id,
    name,
    version: readU32(a.get(CTRL_ATTR_VERSION)) ?? 0,
    hdrsize: readU32(a.get(CTRL_ATTR_HDRSIZE)) ?? 0,
    maxattr: readU32(a.get(CTRL_ATTR_MAXATTR)) ?? 0,
    mcastGroups,
  };
}
