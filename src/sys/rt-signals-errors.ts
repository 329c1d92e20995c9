import { defineCodes } from '../core/errors.js';

/** Error codes of src/sys/rt-signals.ts (documented in docs/errors/sys.md). */
export const RtSignalErrors = defineCodes('sys', {
  KA_ERR_SYS_SIGNAL:
    'a real-time signal cannot be caught: not a number in SIGRTMIN..SIGRTMAX, or sigaction/socketpair failed',
  KA_ERR_SYS_SIGNAL_HANDLER:
    'a caught signal could not be handled: its handler threw, or reading the signal socket failed',
});
