import { defineCodes } from '../../core/errors.js';

/** Error codes of VRRP tracking in src/vrrp/track/ (documented in docs/errors/track.md). */
export const TrackErrors = defineCodes('track', {
  KA_ERR_TRACK_BAD_PRIORITY: 'an instance base priority outside 1..255',
  KA_ERR_TRACK_BAD_WEIGHT: 'a tracker weight outside the range keepalived accepts for its kind',
  KA_ERR_TRACK_BAD_PARAM:
    'a tracker timing or quorum parameter outside its range (interval, rise, fall, quorum…)',
  KA_ERR_TRACK_UNKNOWN: 'a state update names a tracker the instance does not track',
  KA_ERR_TRACK_PROC_SCAN: 'the process table could not be read',
  KA_ERR_TRACK_PROC_CONNECTOR:
    'the kernel proc connector cannot be used (no CAP_NET_ADMIN, refused in a container, LISTEN not acknowledged); /proc is polled and the connector retried',
  KA_ERR_TRACK_FILE_WATCH: 'a tracked file could not be watched; it is re-read periodically instead',
});

export type TrackErrorCode = keyof typeof TrackErrors;
