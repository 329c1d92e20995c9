import { defineCodes } from '../core/errors.js';

/** Error codes of the DBus service (src/dbus/), documented in docs/errors/dbus.md. */
export const DbusErrors = defineCodes('dbus', {
  KA_ERR_DBUS_SERVICE_NAME: 'dbus_service_name is not a valid DBus well-known bus name',
  KA_ERR_DBUS_CONNECT:
    'the system bus could not be reached or refused the connection, or the connection broke',
  KA_ERR_DBUS_NAME:
    'the service name could not be owned: another connection holds it or bus policy refused it',
  KA_ERR_DBUS_BAD_CALL:
    'a method call named an object, interface, method or property the service does not have, or carried wrong arguments (answered with a DBus error)',
  KA_ERR_DBUS_ACTION:
    'the action behind a method call (dump, reload, GARP) failed (answered with a DBus error)',
  KA_ERR_DBUS_SEND: 'a reply or signal could not be written to the bus',
  KA_ERR_DBUS_PROTOCOL:
    'the bus sent bytes that are not a DBus message dbus-next can read; the connection is closed',
});
