import { defineCodes } from '../core/errors.js';

/** Error codes of the script runner, notifier, FIFOs and SMTP alerts in src/notify/ (documented in docs/errors/notify.md). */
export const NotifyErrors = defineCodes('notify', {
  KA_ERR_NOTIFY_BAD_COMMAND:
    'a script command string is empty, has an unmatched quote or ends in a lone backslash',
  KA_ERR_NOTIFY_BAD_USER: 'the script user or group does not exist',
  KA_ERR_NOTIFY_SCRIPT_NOT_FOUND: 'the script file (or a directory on its path) cannot be found',
  KA_ERR_NOTIFY_SCRIPT_NOT_EXECUTABLE: 'the script file is not executable by the user it runs as',
  KA_ERR_NOTIFY_SCRIPT_INSECURE:
    'a root-run script or a directory on its path is writable by a non-root user',
  KA_ERR_NOTIFY_QUEUE_FULL: 'a script invocation was dropped because its queue was full',
  KA_ERR_NOTIFY_SPAWN: 'a script could not be started',
  KA_ERR_NOTIFY_FIFO: 'a notify FIFO could not be created or opened, or is not a FIFO we own',
  KA_ERR_NOTIFY_FIFO_DROPPED: 'a FIFO line was dropped because the FIFO was full (no reader)',
  KA_ERR_NOTIFY_SMTP_FAILED:
    'an SMTP alert was not accepted: connection refused or reset, or a bad reply code',
  KA_ERR_NOTIFY_SMTP_TIMEOUT:
    'an SMTP alert timed out (smtp_connect_timeout) connecting or waiting for a reply',
  KA_ERR_NOTIFY_SMTP_DROPPED: 'an SMTP alert was dropped: its queue was full (the oldest waiting alert goes)',
});

export type NotifyErrorCode = keyof typeof NotifyErrors;
