import { defineCodes } from '../core/errors.js';

/**
 * Codes of configuration diagnostics (documented in docs/errors/config.md). Every diagnostic the
 * preprocessor, the parser and the keyword checker emit carries one of these.
 */
export const ConfigErrors = defineCodes('config', {
  KA_ERR_CONF_FILE_NOT_FOUND: 'the configuration file cannot be read',
  KA_ERR_CONF_INCLUDE_MISSING: 'an include pattern matched no readable file',
  KA_ERR_CONF_INCLUDE_LOOP: 'a file includes itself, directly or through other files',
  KA_ERR_CONF_INCLUDE_DEPTH: 'includes nest deeper than the limit',
  KA_ERR_CONF_LINE_TOO_LONG: 'a line is longer than 1024 bytes after substitution',
  KA_ERR_CONF_UNMATCHED_QUOTE: 'a double quote is not closed on its line',
  KA_ERR_CONF_BAD_PARAM: 'a $NAME definition or a parameter use is malformed',
  KA_ERR_CONF_UNDEFINED_PARAM: 'a $NAME is used but never defined',
  KA_ERR_CONF_BAD_SEQ: 'a ~SEQ or ~LST specification is invalid',
  KA_ERR_CONF_UNEXPECTED_BRACE: "a '{' or '}' where none is expected",
  KA_ERR_CONF_MISSING_BRACE: "a block lacks its '{' or its closing '}'",
  KA_ERR_CONF_SYNTAX: 'the block structure cannot be parsed',
  KA_ERR_CONF_UNKNOWN_KEYWORD: 'a keyword unknown in its block (ignored)',
  KA_ERR_CONF_MISSING_ARG: 'a keyword lacks a required argument',
  KA_ERR_CONF_MISSING_WORD: 'a line lacks a word keepalived reads unconditionally: loading stops there',
  KA_ERR_CONF_BAD_NUMBER: 'a number is malformed or out of range',
  KA_ERR_CONF_BAD_VALUE: 'an argument is not one of the accepted values',
  KA_ERR_CONF_BAD_ADDRESS: 'an IP address or prefix is malformed',
  KA_ERR_CONF_DEPRECATED: 'a deprecated keyword or form (still accepted)',
  KA_ERR_CONF_MISSING_REQUIRED: 'a block lacks a keyword it requires (the block is dropped)',
  KA_ERR_CONF_DUPLICATE: 'a name, VRID or server is defined twice',
  KA_ERR_CONF_UNDEFINED_REF: 'a reference to a script, file, process, instance or group that is not defined',
  KA_ERR_CONF_CONFLICT: 'keywords that contradict each other',
  KA_ERR_CONF_NO_INTERFACE: 'an interface named in the configuration does not exist',
  KA_ERR_CONF_SCRIPT_SECURITY: 'scripts would run as root without enable_script_security',
  KA_ERR_CONF_INTERNAL: 'an unexpected failure inside the configuration loader',
});

export type ConfigErrorCode = keyof typeof ConfigErrors;
