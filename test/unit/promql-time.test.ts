// Unit tests of %promql's time handling: Prometheus durations, query times (RFC 3339, unix, now±duration),
// the automatic step (Grafana's rule) and duration text.
import { autoStep, formatDuration, MAX_POINTS_PER_SERIES, parseDuration, parseTime } from '../../magics/lib/time';

describe('parseDuration', () => {
  it.each([
    ['500ms', 0.5],
    ['10s', 10],
    ['5m', 300],
    ['1h30m', 5400],
    ['2d', 172800],
    ['1w', 604800],
    ['1y', 31536000],
    ['1h0m30s250ms', 3630.25],
    ['30', 30],
    ['1.5', 1.5],
    [' 15s ', 15],
  ])('%s is %d s', (text, seconds) => {
    expect(parseDuration(text)).toBe(seconds);
  });

  it.each(['', 'm', '5x', '1.5h', '30m1h', '5m5m', '-5m', '5 m', 'ms', '1h-5m'])(
    'rejects %j naming the text and the accepted forms',
    (text) => {
      expect(() => parseDuration(text)).toThrow(`bad duration "${text}"`);
      expect(() => parseDuration(text)).toThrow(/500ms, 10s, 5m, 1h30m/);
    },
  );
});

describe('parseTime', () => {
  const now = 1764064800;

  it('reads RFC 3339 in UTC and with offsets', () => {
    expect(parseTime('2025-11-25T10:00:00Z', now)).toBe(1764064800);
    expect(parseTime('2025-11-25T11:00:00+01:00', now)).toBe(1764064800);
    expect(parseTime('2025-11-25T04:30:00-05:30', now)).toBe(1764064800);
    expect(parseTime('2025-11-25T10:00:00.250Z', now)).toBe(1764064800.25);
    expect(parseTime('2025-11-25T10:00Z', now)).toBe(1764064800);
    expect(parseTime('2025-11-25', now)).toBe(1764028800);
  });

  it('reads unix seconds, with decimals', () => {
    expect(parseTime('1764064800', now)).toBe(1764064800);
    expect(parseTime('1764064800.5', now)).toBe(1764064800.5);
  });

  it('reads now and now ± any duration', () => {
    expect(parseTime('now', now)).toBe(now);
    expect(parseTime('now-2h', now)).toBe(now - 7200);
    expect(parseTime('now+5m', now)).toBe(now + 300);
    expect(parseTime('now - 1h30m', now)).toBe(now - 5400);
    expect(parseTime('now-500ms', now)).toBe(now - 0.5);
  });

  it.each(['', 'yesterday', '2025-13-01T00:00:00Z', '2025-02-30T00:00:00Z', '2025-11-25T10:00:00', 'now-2x', 'now*2', '-5'])(
    'rejects %j with a clear message',
    (text) => {
      expect(() => parseTime(text, now)).toThrow(`bad time "${text}"`);
    },
  );

  it('says which part of now±duration is wrong', () => {
    expect(() => parseTime('now-2x', now)).toThrow('"2x" is not a duration');
  });
});

describe('autoStep', () => {
  const start = 1764064800;

  it('1 h over 1000 px: 3.6 s rounds up to 5 s', () => {
    const step = autoStep(start, start + 3600, 1000);
    expect(step).toBe(5);
    expect(3600 / step).toBeLessThanOrEqual(MAX_POINTS_PER_SERIES);
  });

  it('30 d over 1000 px: 2592 s rounds up to 1 h', () => {
    const range = 30 * 86400;
    const step = autoStep(start, start + range, 1000);
    expect(step).toBe(3600);
    expect(range / step).toBeLessThanOrEqual(MAX_POINTS_PER_SERIES);
  });

  it('never goes below 1 s (or the given minimum)', () => {
    expect(autoStep(start, start + 60, 1000)).toBe(1);
    expect(autoStep(start, start + 60, 1000, 0.1)).toBe(0.1);
    expect(autoStep(start, start + 60, 1000, 30)).toBe(30);
    expect(autoStep(start, start + 60, 1000, 20)).toBe(30);
  });

  it('keeps range / step within 11,000 even for very wide charts', () => {
    const range = 7 * 86400;
    const step = autoStep(start, start + range, 1_000_000);
    expect(range / step).toBeLessThanOrEqual(MAX_POINTS_PER_SERIES);
    expect([60, 120]).toContain(step);
  });

  it('always answers a nice interval', () => {
    const nice = new Set([1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 604800]);
    for (const hours of [0.25, 1, 3, 6, 12, 24, 48, 24 * 7, 24 * 30]) {
      for (const width of [300, 800, 1000, 1920]) {
        expect(nice).toContain(autoStep(start, start + hours * 3600, width));
      }
    }
  });

  it('rejects an end before the start', () => {
    expect(() => autoStep(start, start - 1)).toThrow('before its start');
  });
});

describe('formatDuration', () => {
  it.each([
    [3600, '1h'],
    [300, '5m'],
    [30, '30s'],
    [5400, '1h30m'],
    [0.5, '500ms'],
    [86400 * 2, '2d'],
    [604800, '1w'],
    [0, '0s'],
  ])('%d s is %s', (seconds, text) => {
    expect(formatDuration(seconds)).toBe(text);
  });

  it('round-trips with parseDuration', () => {
    for (const text of ['1h30m', '2d12h', '1w1d', '45s', '1m500ms']) expect(formatDuration(parseDuration(text))).toBe(text);
  });
});
