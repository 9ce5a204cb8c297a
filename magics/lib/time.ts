// Time for %promql: Prometheus durations ("5m", "1h30m"), query times (RFC 3339, unix seconds, "now-2h"),
// and the automatic step of a range query (Grafana's rule: range / width rounded up to a nice interval,
// never more than 11,000 points per series). Pure: the current time is always passed in.

const SECOND = 1;
const MINUTE = 60 * SECOND;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const WEEK = 7 * DAY;
const YEAR = 365 * DAY;

/** Prometheus duration units, in the only order Prometheus accepts them (largest first). */
const DURATION_UNITS: readonly { suffix: string; seconds: number }[] = [
  { suffix: 'y', seconds: YEAR },
  { suffix: 'w', seconds: WEEK },
  { suffix: 'd', seconds: DAY },
  { suffix: 'h', seconds: HOUR },
  { suffix: 'm', seconds: MINUTE },
  { suffix: 's', seconds: SECOND },
  { suffix: 'ms', seconds: 0.001 },
];

const DURATION_FORMS = 'a number of seconds (30, 1.5) or units in the order y w d h m s ms (500ms, 10s, 5m, 1h30m, 2d, 1w, 1y)';
const TIME_FORMS = 'RFC 3339 (2026-11-25T10:00:00Z, 2026-11-25T11:00:00+01:00), unix seconds (1764064800), now, now-2h, now+5m';

/** The most points Prometheus returns per series of a range query; Grafana keeps range / step under it. */
export const MAX_POINTS_PER_SERIES = 11_000;

const PLAIN_SECONDS = /^\d+(\.\d+)?$/;
const UNIT_PART = /(\d+)(ms|y|w|d|h|m|s)/y;

/** Seconds in a Prometheus duration (`500ms`, `1h30m`, `2d`) or a plain number of seconds (`30`, `1.5`). */
export function parseDuration(text: string): number {
  const trimmed = text.trim();
  if (PLAIN_SECONDS.test(trimmed)) return Number(trimmed);
  const seconds = parseUnitDuration(trimmed);
  if (seconds === undefined) throw new Error(`bad duration "${text}": use ${DURATION_FORMS}`);
  return seconds;
}

/** Sums `<int><unit>` parts, each unit at most once and largest first; undefined when the text is not that. */
function parseUnitDuration(text: string): number | undefined {
  if (text === '') return undefined;
  let total = 0;
  let position = 0;
  let nextAllowedUnit = 0;
  while (position < text.length) {
    UNIT_PART.lastIndex = position;
    const part = UNIT_PART.exec(text);
    if (part === null) return undefined;
    const unitIndex = DURATION_UNITS.findIndex((unit) => unit.suffix === part[2]);
    if (unitIndex < nextAllowedUnit) return undefined;
    total += Number(part[1]) * DURATION_UNITS[unitIndex].seconds;
    nextAllowedUnit = unitIndex + 1;
    position = UNIT_PART.lastIndex;
  }
  return roundToMilliseconds(total);
}

function roundToMilliseconds(seconds: number): number {
  return Math.round(seconds * 1000) / 1000;
}

/** Prometheus-style text for a duration: "1h30m", "5m", "30s", "500ms", "0s". */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) throw new Error(`cannot format ${seconds} as a duration`);
  let remainingMs = Math.round(seconds * 1000);
  if (remainingMs === 0) return '0s';
  let text = '';
  for (const unit of DURATION_UNITS) {
    const unitMs = Math.round(unit.seconds * 1000);
    const count = Math.floor(remainingMs / unitMs);
    if (count > 0) {
      text += `${count}${unit.suffix}`;
      remainingMs -= count * unitMs;
    }
  }
  return text;
}

const RELATIVE_TIME = /^now\s*(?:([+-])\s*(\S+))?$/;
const RFC3339 =
  /^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?\s*([Zz]|[+-]\d{2}:?\d{2}))?$/;

/** Seconds since the epoch for `now`, `now-2h`, `now+5m`, unix seconds or an RFC 3339 date-time. */
export function parseTime(text: string, nowSeconds: number): number {
  const trimmed = text.trim();
  const relative = RELATIVE_TIME.exec(trimmed);
  if (relative !== null) return parseRelativeTime(text, relative, nowSeconds);
  if (PLAIN_SECONDS.test(trimmed)) return Number(trimmed);
  const seconds = parseRfc3339(trimmed);
  if (seconds === undefined) throw new Error(`bad time "${text}": use ${TIME_FORMS}`);
  return seconds;
}

function parseRelativeTime(text: string, match: RegExpExecArray, nowSeconds: number): number {
  const [, sign, durationText] = match;
  if (sign === undefined || durationText === undefined) return nowSeconds;
  let offset: number;
  try {
    offset = parseDuration(durationText);
  } catch {
    throw new Error(`bad time "${text}": "${durationText}" is not a duration; use ${DURATION_FORMS}`);
  }
  return roundToMilliseconds(sign === '-' ? nowSeconds - offset : nowSeconds + offset);
}

/** RFC 3339 with a zone (Z or ±hh:mm); a bare date means midnight UTC. Rejects impossible dates. */
function parseRfc3339(text: string): number | undefined {
  const match = RFC3339.exec(text);
  if (match === null) return undefined;
  const [, year, month, day, hour, minute, second, fraction, zone] = match;
  if (hour !== undefined && zone === undefined) return undefined;
  const fields = [year, month, day, hour ?? '0', minute ?? '0', second ?? '0'].map(Number);
  const utcMs = Date.UTC(fields[0], fields[1] - 1, fields[2], fields[3], fields[4], fields[5]);
  if (!sameCalendarFields(new Date(utcMs), fields)) return undefined;
  const fractionSeconds = fraction === undefined ? 0 : Number(`0${fraction}`);
  return roundToMilliseconds(utcMs / 1000 + fractionSeconds - zoneOffsetSeconds(zone));
}

/** Date.UTC rolls 2026-02-30 over into March: a date is valid only if its fields come back unchanged. */
function sameCalendarFields(date: Date, fields: number[]): boolean {
  const actual = [
    date.getUTCFullYear(),
    date.getUTCMonth() + 1,
    date.getUTCDate(),
    date.getUTCHours(),
    date.getUTCMinutes(),
    date.getUTCSeconds(),
  ];
  return actual.every((value, index) => value === fields[index]);
}

function zoneOffsetSeconds(zone: string | undefined): number {
  if (zone === undefined || zone === 'Z' || zone === 'z') return 0;
  const digits = zone.replace(':', '');
  const sign = digits[0] === '-' ? -1 : 1;
  return sign * (Number(digits.slice(1, 3)) * HOUR + Number(digits.slice(3, 5)) * MINUTE);
}

/** Grafana's "nice" intervals, in seconds: a step is rounded up to the next one of these. */
const NICE_STEPS: readonly number[] = [
  0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5,
  1, 2, 5, 10, 15, 30,
  MINUTE, 2 * MINUTE, 5 * MINUTE, 10 * MINUTE, 15 * MINUTE, 30 * MINUTE,
  HOUR, 2 * HOUR, 3 * HOUR, 6 * HOUR, 12 * HOUR,
  DAY, WEEK, 30 * DAY, YEAR,
];

/**
 * The step of a range query over [start, end] drawn `widthPixels` wide: about one point per pixel, at least
 * `minStepSeconds`, rounded up to a nice interval, and coarse enough that range / step <= 11,000.
 */
export function autoStep(startSeconds: number, endSeconds: number, widthPixels = 1000, minStepSeconds = 1): number {
  const range = endSeconds - startSeconds;
  if (!(range >= 0)) throw new Error(`the end of the range (${endSeconds}) is before its start (${startSeconds})`);
  if (!(widthPixels > 0)) throw new Error(`the chart width must be positive, got ${widthPixels}`);
  const wanted = Math.max(range / widthPixels, minStepSeconds, range / MAX_POINTS_PER_SERIES);
  return niceStepAtLeast(wanted);
}

function niceStepAtLeast(seconds: number): number {
  const nice = NICE_STEPS.find((step) => step >= seconds);
  return nice ?? Math.ceil(seconds / YEAR) * YEAR;
}
