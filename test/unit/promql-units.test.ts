// Unit tests of --unit: value text for tables and hovers, nice axis ticks (bytes, seconds, percent, log scale),
// unknown units, and the browser copy of the formatter agreeing with formatValue.
import { runInNewContext } from 'node:vm';

import {
  axisTicks,
  FORMAT_VALUE_JS,
  formatValue,
  parseUnit,
  plotlyHoverFormat,
  UNIT_NAMES,
  unitSpec,
  type UnitName,
  type UnitSpec,
} from '../../magics/promql/units';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

describe('formatValue', () => {
  it.each<[number, UnitName, string]>([
    [0.25, 'seconds', '250 ms'],
    [0.000042, 'seconds', '42 µs'],
    [1.5, 'seconds', '1.5 s'],
    [90, 'seconds', '1.5 min'],
    [5400, 'seconds', '1.5 h'],
    [0, 'seconds', '0 s'],
    [512 * MiB, 'bytes', '512 MiB'],
    [1.5 * GiB, 'bytes', '1.5 GiB'],
    [1023, 'bytes', '1023 B'],
    [2048, 'bytes', '2 KiB'],
    [99.5, 'percent', '99.5%'],
    [0.995, 'percentunit', '99.5%'],
    [1234, 'reqps', '1.23k req/s'],
    [0.5, 'reqps', '0.5 req/s'],
    [3e6, 'ops', '3M ops/s'],
    [1500, 'short', '1.5k'],
    [2.5e9, 'short', '2.5G'],
    [0.0123, 'short', '0.0123'],
    [12345.678, 'none', '12346'],
    [0.016666666666666666, 'none', '0.01667'],
    [-512 * MiB, 'bytes', '-512 MiB'],
  ])('%d in %s is %s', (value, unit, text) => {
    expect(formatValue(value, unit)).toBe(text);
  });

  it('writes NaN and infinities as Prometheus does', () => {
    expect(formatValue(NaN, 'bytes')).toBe('NaN');
    expect(formatValue(Infinity, 'seconds')).toBe('+Inf');
    expect(formatValue(-Infinity)).toBe('-Inf');
  });
});

describe('parseUnit', () => {
  it('knows the unit names and defaults to none', () => {
    for (const name of UNIT_NAMES) expect(parseUnit(name)).toBe(name);
    expect(parseUnit(undefined)).toBe('none');
    expect(parseUnit('')).toBe('none');
  });

  it('rejects an unknown unit listing the known ones', () => {
    expect(() => parseUnit('furlongs')).toThrow('unknown unit "furlongs": use one of none, short, seconds, bytes, percent');
  });
});

describe('axisTicks', () => {
  it('bytes: power-of-two steps (256 MiB, 512 MiB...)', () => {
    const ticks = axisTicks(100 * MiB, 900 * MiB, 'bytes');
    expect(ticks.ticktext).toEqual(['0 B', '256 MiB', '512 MiB', '768 MiB', '1 GiB']);
    expect(ticks.tickvals).toEqual([0, 256 * MiB, 512 * MiB, 768 * MiB, GiB]);
  });

  it('bytes: fractions of the bigger unit read well', () => {
    expect(axisTicks(0, 2.2 * GiB, 'bytes').ticktext).toEqual(['0 B', '512 MiB', '1 GiB', '1.5 GiB', '2 GiB', '2.5 GiB']);
  });

  it('seconds: 100 ms steps under a second', () => {
    expect(axisTicks(0.02, 0.48, 'seconds').ticktext).toEqual(['0 s', '100 ms', '200 ms', '300 ms', '400 ms', '500 ms']);
  });

  it('seconds: clock steps over a minute', () => {
    const ticks = axisTicks(0, 3 * 3600, 'seconds');
    expect(ticks.tickvals).toEqual([0, 3600, 7200, 10800]);
    expect(ticks.ticktext).toEqual(['0 s', '1 h', '2 h', '3 h']);
    expect(axisTicks(0, 1000, 'seconds').ticktext).toEqual(['0 s', '5 min', '10 min', '15 min', '20 min']);
  });

  it('percent and percentunit', () => {
    expect(axisTicks(0, 100, 'percent').ticktext).toEqual(['0%', '20%', '40%', '60%', '80%', '100%']);
    const unit = axisTicks(0.9, 0.99, 'percentunit');
    expect(unit.ticktext).toEqual(['90%', '92%', '94%', '96%', '98%', '100%']);
    expect(unit.tickvals).toEqual([0.9, 0.92, 0.94, 0.96, 0.98, 1]);
  });

  it('enclose the data and tell neighbours apart', () => {
    const ticks = axisTicks(1000.2 * MiB, 1000.9 * MiB, 'bytes');
    expect(ticks.tickvals[0]).toBeLessThanOrEqual(1000.2 * MiB);
    expect(ticks.tickvals.at(-1)).toBeGreaterThanOrEqual(1000.9 * MiB);
    expect(new Set(ticks.ticktext).size).toBe(ticks.ticktext.length);
  });

  it('give a flat line an axis', () => {
    expect(axisTicks(1, 1, 'short').tickvals).toEqual([0, 0.5, 1, 1.5]);
    expect(axisTicks(50, 50, 'percent').ticktext).toEqual(['0%', '20%', '40%', '60%']);
    expect(axisTicks(0, 0, 'short').tickvals).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
  });

  it('log scale: decades, 1-2-5 within a short range', () => {
    expect(axisTicks(0.001, 10, 'seconds', 5, true).ticktext).toEqual(['1 ms', '10 ms', '100 ms', '1 s', '10 s']);
    expect(axisTicks(1, 90, 'short', 5, true).tickvals).toEqual([1, 2, 5, 10, 20, 50, 100]);
  });

  it('log scale bytes: powers of two landing on KiB, MiB, GiB', () => {
    expect(axisTicks(1000, 5 * GiB, 'bytes', 5, true).ticktext).toEqual(['1 B', '1 KiB', '1 MiB', '1 GiB', '1 TiB']);
    expect(axisTicks(100 * MiB, GiB, 'bytes', 5, true).ticktext).toEqual(['64 MiB', '128 MiB', '256 MiB', '512 MiB', '1 GiB']);
  });

  it('rejects infinite bounds and unknown units', () => {
    expect(() => axisTicks(0, Infinity, 'bytes')).toThrow('finite');
    expect(() => axisTicks(0, 1, 'parsecs' as UnitName)).toThrow('unknown unit "parsecs"');
  });
});

describe('browser formatter', () => {
  const browserFormat = runInNewContext(`(${FORMAT_VALUE_JS})`) as (value: number, spec: UnitSpec) => string;
  const samples = [0, 1, -1, 0.5, 0.000042, 0.25, 1.5, 59.9, 90, 999.96, 1023, 1024, 5400, 86400 * 3, 1234, 3e6, 2.5e9,
    512 * MiB, 1.5 * GiB, 0.016666666666666666, 12345.678, 0.995, 99.5, NaN, Infinity, -Infinity, -512 * MiB, 1e-12];

  it.each([...UNIT_NAMES])('matches formatValue for %s', (unit) => {
    const spec = JSON.parse(JSON.stringify(unitSpec(unit))) as UnitSpec;
    for (const value of samples) expect(browserFormat(value, spec)).toBe(formatValue(value, unit));
  });
});

describe('plotlyHoverFormat', () => {
  it('gives d3 formats with the unit for figure-only renderers', () => {
    expect(plotlyHoverFormat('seconds', 'y', 2)).toBe('%{y:.3~s}s');
    expect(plotlyHoverFormat('percentunit', 'x', 1)).toBe('%{x:.3~p}');
    expect(plotlyHoverFormat('reqps', 'y', 5000)).toBe('%{y:.3~s} req/s');
  });
});
