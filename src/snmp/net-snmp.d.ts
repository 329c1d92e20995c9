/**
 * The part of net-snmp 3.29 (no bundled types) that src/snmp/agent.ts uses: the AgentX sub-agent,
 * its PDU class and the type constants. Shapes as lib index.js defines them.
 */
declare module 'net-snmp' {
  import type { EventEmitter } from 'node:events';
  import type { Socket } from 'node:net';

  namespace snmp {
    interface SearchRange {
      readonly start: string | null;
      readonly end: string | null;
    }

    interface AgentXVarbind {
      oid: string;
      type: number;
      value: unknown;
    }

    interface AgentXPdu {
      pduType: number;
      flags: number;
      sessionID: number;
      transactionID: number;
      packetID: number;
      payloadLength: number;
      /** Response PDUs */
      error?: number;
      index?: number;
      /** Get, GetNext, GetBulk */
      searchRangeList?: SearchRange[];
      nonRepeaters?: number;
      maxRepetitions?: number;
      varbinds?: AgentXVarbind[] | null;
      getResponsePduForRequest(): AgentXPdu;
      toBuffer(): Buffer;
    }

    /** smart-buffer's SmartBuffer, as the PDU writers receive it. */
    interface PduWriteBuffer {
      writeUInt16BE(v: number): unknown;
      writeUInt32BE(v: number): unknown;
      writeBuffer(b: Buffer): unknown;
    }

    interface AgentXPduStatic {
      createFromVariables(vars: Record<string, unknown>): AgentXPdu;
      createFromBuffer(buf: Buffer): AgentXPdu;
      writeOctetString(buffer: PduWriteBuffer, value: string | Buffer): void;
      writeOid(buffer: PduWriteBuffer, oid: string): void;
      writeVarBind(buffer: PduWriteBuffer, varbind: AgentXVarbind): void;
    }

    type Callback = (error: Error | null, pdu?: AgentXPdu) => void;

    interface Subagent extends EventEmitter {
      socket: Socket;
      sessionID: number;
      open(cb: Callback): void;
      close(cb: Callback): void;
      addAgentCaps(oid: string, descr: string, cb: Callback): void;
      notify(typeOrOid: string, varbinds: AgentXVarbind[], cb: Callback): void;
      sendPdu(pdu: AgentXPdu, cb: Callback | null): void;
      /** Matches a Response PDU with its request and runs the request's callback. */
      response(pdu: AgentXPdu): void;
    }

    interface SubagentOptions {
      master?: string;
      /** A TCP port, or (net.Socket.connect's path form) the path of a unix socket. */
      masterPort?: number | string;
      timeout?: number;
      description?: string;
    }
  }

  const snmp: {
    createSubagent(options: snmp.SubagentOptions): snmp.Subagent;
    AgentXPdu: snmp.AgentXPduStatic;
    AgentXPduType: Readonly<Record<string, number>>;
    ObjectType: Readonly<Record<string, number>>;
  };
  export = snmp;
}
